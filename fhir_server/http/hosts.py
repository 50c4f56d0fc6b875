"""Which FHIR base a request's absolute URLs are built from, and which Host headers are trusted.

With ``FHIR_BASE_URL`` set it is the base, whatever the Host header says. Unset, the base is
built from the Host header, but only from a Host the server was configured for or is reached
at: a name in ``FHIR_ALLOWED_HOSTS`` (``host`` or ``host:port``), the address the connection
arrived on (the interface and port the server listens on), or — only on a connection that
arrived on a loopback address — a loopback name (``localhost``, ``127.0.0.1``, ``[::1]``). Any
other Host is refused with 400: it would otherwise choose where the login form posts, the
tokens' issuer and audience, and whether plain HTTP counts as local.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from fhir_server.config import Settings
from fhir_server.numbers import parse_count

log = logging.getLogger("fhir_server")

PREFIX = "/fhir"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})

UNTRUSTED = (
    "The Host header names no host this server is configured for: set FHIR_BASE_URL (the public"
    " base) or list the host in FHIR_ALLOWED_HOSTS"
)


def _split(host: str, default_port: int | None) -> tuple[str, int | None]:
    """``host[:port]`` (``[v6]:port`` too) → lower-cased name without brackets, and port."""
    name, port = host.strip().lower(), default_port
    if name.startswith("["):
        end = name.find("]")
        if end == -1:
            return "", None
        rest = name[end + 1 :]
        name = name[1:end]
        if rest.startswith(":") and (found := parse_count(rest[1:])) is not None:
            port = found
        elif rest:
            return "", None
    elif name.count(":") == 1:
        name, _, raw = name.partition(":")
        if (found := parse_count(raw)) is None:
            return "", None
        port = found
    return name, port


def _is_loopback(name: str) -> bool:
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostTrust:
    """The FHIR base of each request (``base``), None when its Host is not trusted."""

    def __init__(self, settings: Settings) -> None:
        self.configured = settings.base_url.rstrip("/") if settings.base_url else None
        self.allowed = frozenset(h.strip().lower() for h in settings.allowed_hosts)
        self._cached = lru_cache(maxsize=256)(self._base)

    def base(self, scope: Mapping[str, Any], host: str | None) -> str | None:
        if self.configured:
            return self.configured
        server = scope.get("server")
        return self._cached(
            scope.get("scheme", "http"),
            host,
            tuple(server) if server else None,
            scope.get("root_path", ""),
        )

    def _base(
        self, scheme: str, host: str | None, server: tuple[Any, ...] | None, root_path: str
    ) -> str | None:
        if host is None and server is not None:  # HTTP/1.0: the address it was reached at
            name = str(server[0])
            host = f"[{name}]" if ":" in name else name
            if server[1] is not None and server[1] != _DEFAULT_PORTS.get(scheme):
                host = f"{host}:{server[1]}"
        if host is None or not self.trusted(scheme, host, server):
            return None
        return f"{scheme}://{host}{root_path}{PREFIX}"

    def trusted(self, scheme: str, host: str, server: tuple[Any, ...] | None) -> bool:
        name, port = _split(host, _DEFAULT_PORTS.get(scheme))
        if not name:
            return False
        if host.strip().lower() in self.allowed or name in self.allowed:
            return True
        if server is None:
            return False
        server_name = str(server[0]).lower().strip("[]")
        server_port = server[1] if server[1] is not None else _DEFAULT_PORTS.get(scheme)
        if (name, port) == (server_name, server_port):
            return True
        return _is_loopback(server_name) and _is_loopback(name)

    def announce(self) -> None:
        """Say at start where the base comes from when ``FHIR_BASE_URL`` is unset."""
        if self.configured:
            return
        allowed = ", ".join(sorted(self.allowed)) or "none"
        log.warning(
            "FHIR_BASE_URL is unset: absolute URLs (the login form, tokens' issuer and audience,"
            " Location, links) follow the request's Host header, accepted only for the address"
            " the server listens on, loopback names on a loopback connection, and"
            " FHIR_ALLOWED_HOSTS (%s); other Hosts get 400. Set FHIR_BASE_URL to the public"
            " https base in production.",
            allowed,
        )
