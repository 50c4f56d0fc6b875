"""Signed, stateless paging cursors: the store's keyset position and the direction to page in
from it, bound to one search and authenticated with HMAC so a client cannot forge one, readable by
any server process that shares the secret.

`fhir-server serve` makes one secret per start and hands it to its workers
(``FHIR_CURSOR_SECRET``); set it explicitly when several servers sit behind one load balancer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from fhir_server.errors import Invalid

_SECRET_ENV = "FHIR_CURSOR_SECRET"


def _secret() -> bytes:
    value = os.environ.get(_SECRET_ENV)
    if not value:
        value = os.environ[_SECRET_ENV] = secrets.token_hex(32)
    return value.encode()


def _mac(payload: bytes) -> str:
    digest = hmac.new(_secret(), payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(position: str) -> str:
    payload = position.encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _mac(payload)


def verify(token: str) -> str:
    body, _, mac = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError) as err:
        raise Invalid("_cursor is not a cursor this server issued", ["_cursor"]) from err
    if not mac or not hmac.compare_digest(mac, _mac(payload)):
        raise Invalid("_cursor is not a cursor this server issued", ["_cursor"])
    return payload.decode()


AFTER, BEFORE = ">", "<"
"""Directions: the page after a position (``next``), or before it (``previous``; ``last`` is the
page before the end, an empty position)."""


def page_token(binding: str, direction: str, position: str) -> str:
    """A signed cursor for the page ``direction`` of ``position`` in the search ``binding``."""
    return sign(f"{binding}:{direction}{position}")


def read_page_token(token: str, binding: str) -> tuple[bool, str | None]:
    """(backward, position) of a cursor `page_token` made for the search ``binding``."""
    bound, _, rest = verify(token).partition(":")
    if bound != binding:
        raise Invalid("_cursor belongs to another search", ["_cursor"])
    direction, position = rest[:1], rest[1:]
    if direction not in (AFTER, BEFORE) or (direction == AFTER and not position):
        raise Invalid("_cursor is not a cursor this server issued", ["_cursor"])
    return direction == BEFORE, position or None
