"""An OAuth request as authlib reads it, built from an HTTP request whose body is already read
(authlib runs on a worker thread and must not touch the ASGI receive channel)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request


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
    def form(self) -> dict[str, str]:
        return self.payload.data

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data
