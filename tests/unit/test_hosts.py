"""Which Host headers build absolute URLs (fhir_server/http/hosts.py); the HTTP behaviour is in
tests/smart/test_host_and_headers.py."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.config import Settings
from fhir_server.http.hosts import HostTrust


def base(host: str | None, server: Any, scheme: str = "http", **settings: Any) -> str | None:
    trust = HostTrust(Settings(**settings))
    return trust.base({"scheme": scheme, "server": server, "root_path": ""}, host)


@pytest.mark.parametrize(
    ("host", "server", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080), "http://127.0.0.1:8080/fhir"),
        ("localhost:8080", ("127.0.0.1", 8080), "http://localhost:8080/fhir"),
        ("[::1]:8080", ("::1", 8080), "http://[::1]:8080/fhir"),
        ("localhost:9000", ("::1", 8080), "http://localhost:9000/fhir"),  # a local tunnel
        ("10.0.0.5:8080", ("10.0.0.5", 8080), "http://10.0.0.5:8080/fhir"),
        ("testserver", ("testserver", None), "http://testserver/fhir"),
        (None, ("10.0.0.5", 8080), "http://10.0.0.5:8080/fhir"),  # HTTP/1.0: no Host
        ("localhost:8080", ("10.0.0.5", 8080), None),  # loopback name, public connection
        ("evil.example", ("127.0.0.1", 8080), None),
        ("10.0.0.5:9999", ("10.0.0.5", 8080), None),
        ("127.0.0.1:8080@evil.example", ("127.0.0.1", 8080), None),
        ("[::1", ("::1", 8080), None),
        ("a:b:c", ("127.0.0.1", 8080), None),
        ("localhost", None, None),  # a Unix socket: only configured hosts
    ],
)
def test_trusted_hosts(host: str | None, server: Any, expected: str | None) -> None:
    assert base(host, server) == expected


def test_allowed_hosts_and_the_configured_base() -> None:
    allowed = {"allowed_hosts": ["fhir.example.dk", "intern:8443"]}
    assert base("fhir.example.dk:8080", None, **allowed) == "http://fhir.example.dk:8080/fhir"
    assert base("intern:8443", None, "https", **allowed) == "https://intern:8443/fhir"
    assert base("intern", None, "https", **allowed) is None
    configured = {"base_url": "https://fhir.example.dk/fhir/"}
    assert base("evil.example", None, **configured) == "https://fhir.example.dk/fhir"
