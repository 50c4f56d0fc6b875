"""The two fuzzers, as functions of a `Harness` and hypothesis settings, so the seeded run in the
suite (tests/fuzz/test_fuzz.py) and the long run (`make fuzz`, bench/fuzz.py) are the same code.

* `api_fuzz`: our own FHIR-shaped request strategy (tests/fuzz/strategies.py).
* `schema_fuzz`: schemathesis cases, positive and negative, from the OpenAPI description the
  server serves at ``/openapi.json`` (generated from its CapabilityStatement).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.fuzz.harness import Harness
from tests.fuzz.strategies import requests, seeds

SUPPRESSED = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.large_base_example,
]


def fuzz_settings(max_examples: int, seeded: bool) -> settings:
    """Seeded: the same examples on every run (``derandomize``), a failure shrunk to a minimal
    reproducer. Otherwise random and quiet, for the long run, which counts findings instead of
    stopping at one. No example database either way (findings are reported, not replayed from
    a hidden directory)."""
    return settings(
        max_examples=max_examples,
        derandomize=seeded,
        deadline=None,
        database=None,
        suppress_health_check=SUPPRESSED,
        phases=[Phase.explicit, Phase.generate, Phase.shrink] if seeded else [Phase.generate],
        verbosity=Verbosity.normal if seeded else Verbosity.quiet,
        print_blob=False,
    )


def api_fuzz(harness: Harness, config: settings) -> None:
    pool = seeds(harness.server.demo)

    @config
    @given(request=requests(pool))
    def run(request: Any) -> None:
        harness.send(request.method, request.url, headers=request.headers, body=request.body)

    run()


def openapi_schema(harness: Harness) -> Any:
    """The served OpenAPI description, loaded by schemathesis."""
    resp = harness.server.request("GET", "/openapi.json")
    assert resp.status_code == 200, resp.text
    return schemathesis.openapi.from_dict(resp.json())


def schema_fuzz(harness: Harness, config: settings) -> None:
    cases = harness.cache.get("cases")
    if cases is None:  # loaded once per server: the long run calls this round after round
        schema = openapi_schema(harness)
        cases = harness.cache["cases"] = st.one_of(
            schema.as_strategy(GenerationMode.POSITIVE),
            schema.as_strategy(GenerationMode.NEGATIVE),
        )

    @config
    @given(case=cases)
    def run(case: Any) -> None:
        method, url, headers, body = _request_of(case)
        harness.send(method, url, headers=headers, body=body)

    run()


def _request_of(case: Any) -> tuple[str, str, dict[str, Any], bytes | None]:
    """A schemathesis case as (method, url, headers, body) for `Harness.send`."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver/fhir")
    parts = urlsplit(kwargs["url"])
    url = parts.path
    query = kwargs.get("params")
    if query:
        url += "?" + urlencode(query, doseq=True)
    headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "user-agent"}
    body: bytes | None = None
    if "json" in kwargs:
        body = json.dumps(kwargs["json"]).encode()
        headers.setdefault("Content-Type", "application/fhir+json")
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        if isinstance(data, dict):
            body = urlencode(data, doseq=True).encode()
        elif isinstance(data, str):
            body = data.encode("utf-8", "surrogatepass")
        else:
            body = bytes(data)
    return case.method.upper(), url, headers, body
