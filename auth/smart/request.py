"""An OAuth request as authlib reads it, built from an HTTP request whose body is already read
(authlib runs on a worker thread and must not touch the ASGI receive channel)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from starlette.requests import Request

from fhir_server.numbers import parse_count

if TYPE_CHECKING:
    from auth.clients import Client

MAX_FORM_BYTES = 64 * 1024
"""The largest body any endpoint under ``/fhir/auth`` reads (forms, the launch API's JSON): an
OAuth or login request is a few hundred bytes, so a bigger one is refused with 413."""


class BodyTooLarge(Exception):
    """The body is over ``MAX_FORM_BYTES`` (declared, or counted while it streamed in)."""


async def read_body(request: Request, limit: int = MAX_FORM_BYTES) -> bytes:
    """The body, read chunk by chunk and abandoned as soon as it passes ``limit``: a declared
    Content-Length is not enough, since a chunked body declares none."""
    declared = parse_count(request.headers.get("content-length", ""), clamp=True)
    if declared is not None and declared > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class Params(OAuth2Payload):
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class SmartRequest(OAuth2Request):
    """``fhir_base`` is this request's FHIR base URL (issuer and audience); ``smart`` carries
    what the interactive pages decided (user, patient, approved scopes) into the grant."""

    # narrower than authlib's declarations: what this class always holds
    payload: Params
    headers: Mapping[str, str]
    # our Client implements authlib's ClientMixin methods without inheriting from it
    client: Client | None  # type: ignore[assignment]

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        pairs: list[tuple[str, str]],
        fhir_base: str,
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = Params(pairs)
        self.pairs = pairs
        self.fhir_base = fhir_base
        self.smart: dict[str, Any] = {}

    @property
    def known_client(self) -> Client:
        """The client, once authlib has looked it up or authenticated it (every grant and
        OpenID hook that reads it runs after that)."""
        if self.client is None:
            raise RuntimeError("the OAuth request's client is read before authlib found it")
        return self.client

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data

    @property
    def args(self) -> dict[str, str]:  # type: ignore[override]  # no query value is ever None
        return self.payload.data


def smart_request(request: OAuth2Request) -> SmartRequest:
    """``request`` as this server built it: authlib's grants and OpenID hooks hold it as an
    ``OAuth2Request``, but every request reaching authlib here is a ``SmartRequest``
    (``SmartAuthorizationServer.create_oauth2_request``)."""
    if not isinstance(request, SmartRequest):
        raise TypeError(f"expected a SmartRequest, got {type(request).__name__}")
    return request
