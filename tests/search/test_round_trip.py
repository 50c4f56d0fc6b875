"""Round trip per parameter type, on every store: a value written to a resource is found by its
own search value (search.html: a value's search form matches it). Hypothesis draws the values;
each example writes one resource under a fresh id and searches ``_id=<id>&<param>=<value>``, so
the parameter's filter drives the query through the store's index (``_id`` never drives).

Each type's normalizer (index side) and condition (query side) live in one module
(`search/params/<type>.py`); this is the property that ties the two together per store.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from tests.api.support import BASE
from tests.support.backends import BACKENDS, app_store

EXAMPLES = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

NUMBER = {  # no served type has a number parameter: a custom one on a quantity's decimal
    "resourceType": "SearchParameter",
    "id": "sp-value-number",
    "url": "http://example.org/fhir/SearchParameter/value-number",
    "name": "value-number",
    "status": "active",
    "description": "Observation.valueQuantity.value as a number",
    "code": "value-number",
    "base": ["Observation"],
    "type": "number",
    "expression": "Observation.value.ofType(Quantity).value",
}


@dataclass
class Server:
    runner: asyncio.Runner
    client: httpx.AsyncClient

    def found(self, resource: dict[str, Any], *query: tuple[str, str]) -> bool:
        """Write ``resource`` under a fresh id; whether ``_id=<id>&query`` finds exactly it."""
        return self.runner.run(self._found(resource, list(query)))

    async def _found(self, resource: dict[str, Any], query: list[tuple[str, str]]) -> bool:
        id_ = uuid.uuid4().hex
        type_ = resource["resourceType"]
        resp = await self.client.put(f"{type_}/{id_}", json={**resource, "id": id_})
        assert resp.status_code == 201, resp.text
        resp = await self.client.get(type_, params=[("_id", id_), *query])
        assert resp.status_code == 200, (query, resp.text)
        return [e["resource"]["id"] for e in resp.json().get("entry", [])] == [id_]


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    db: Path = tmp_path_factory.mktemp("round-trip") / "fhir.db"
    # what is written round-trips through the index whatever it references (Device and Group
    # are not served: such references are refused when referential integrity is on)
    config = Settings(
        store_url=f"sqlite:///{db}",
        validate_profiles=False,
        install_conformance=False,
        auth="off",
        referential_integrity=False,
    )
    with asyncio.Runner() as runner:
        app = ServerApp(config, store=app_store(str(request.param)))
        runner.run(app.startup())
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
        resp = runner.run(client.put(f"SearchParameter/{NUMBER['id']}", json=NUMBER))
        assert resp.status_code == 201, resp.text
        try:
            yield Server(runner, client)
        finally:
            runner.run(client.aclose())
            runner.run(app.shutdown())


def escaped(text: str) -> str:
    """A value as a search parameter writes it: ``\\``, ``,``, ``|`` and ``$`` escaped."""
    for c in "\\,|$":
        text = text.replace(c, "\\" + c)
    return text


_WORD = st.text(st.sampled_from("abcxyzABCXYZ0189æøåÆØÅéüß"), min_size=1, max_size=8)
_TEXT = st.lists(_WORD, min_size=1, max_size=3).map(" ".join)
"""A FHIR string: letters (Danish, accented), digits, single inner spaces."""
_CODE = st.text(st.sampled_from("abcXYZ019.-_:,$|\\/æ"), min_size=1, max_size=10)
"""A FHIR code, with characters a search value must escape (``|`` too)."""
_SYSTEM = st.from_regex(r"\Ahttp://[a-z]{1,6}\.dk(/[a-z0-9.]{1,6}){0,2}\Z")
_ID = st.from_regex(r"\A[A-Za-z0-9.-]{1,20}\Z")
_DECIMAL = st.decimals(
    min_value=Decimal("-1e6"), max_value=Decimal("1e6"), places=3, allow_nan=False
).map(lambda d: d.normalize() if d == d.to_integral() else d)
_UNIT = st.sampled_from(["mg", "mmol/L", "kg", "mm[Hg]", "%", "10*3/uL"])
UCUM = "http://unitsofmeasure.org"


def _number(d: Decimal) -> str:
    return format(d, "f")


def _observation(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, **fields}


@EXAMPLES
@given(system=_SYSTEM, code=_CODE)
def test_token(server: Server, system: str, code: str) -> None:
    obs = _observation(code={"coding": [{"system": system, "code": code}]})
    assert server.found(obs, ("code", f"{system}|{escaped(code)}"))
    assert server.found(obs, ("code", escaped(code)))
    assert server.found(obs, ("code", f"{system}|"))


def test_token_code_with_an_escaped_bar(server: Server) -> None:
    """search.html#escaping: ``\\|`` is a bar inside the code, not the system separator (the
    parser keeps a token's escapes until the token has split on its unescaped ``|``)."""
    obs = _observation(code={"coding": [{"system": "http://a.dk", "code": "a|b"}]})
    assert server.found(obs, ("code", "a\\|b"))


@EXAMPLES
@given(family=_TEXT)
def test_string(server: Server, family: str) -> None:
    patient = {"resourceType": "Patient", "name": [{"family": family}]}
    assert server.found(patient, ("family", escaped(family)))
    assert server.found(patient, ("family:exact", escaped(family)))
    assert server.found(patient, ("family", escaped(family[: max(1, len(family) // 2)])))
    assert server.found(patient, ("family:contains", escaped(family[len(family) // 2 :])))


_INSTANTS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
_OFFSETS = st.sampled_from([0, 60, -300, 330]).map(lambda m: timezone(timedelta(minutes=m)))


@EXAMPLES
@given(instant=_INSTANTS, offset=_OFFSETS, precision=st.sampled_from(["y", "m", "d", "s"]))
def test_date(server: Server, instant: datetime, offset: timezone, precision: str) -> None:
    local = instant.astimezone(offset)
    written = {
        "y": f"{local.year:04d}",
        "m": f"{local.year:04d}-{local.month:02d}",
        "d": local.date().isoformat(),
        "s": local.isoformat(),
    }[precision]
    obs = _observation(effectiveDateTime=written)
    for prefix in ("", "eq", "ge", "le", "ap"):
        assert server.found(obs, ("date", prefix + written)), prefix


@EXAMPLES
@given(value=_DECIMAL, unit=_UNIT)
def test_quantity(server: Server, value: Decimal, unit: str) -> None:
    obs = _observation(valueQuantity={"value": float(value), "system": UCUM, "code": unit})
    assert server.found(obs, ("value-quantity", f"{_number(value)}|{UCUM}|{escaped(unit)}"))
    assert server.found(obs, ("value-quantity", f"{_number(value)}||{escaped(unit)}"))
    assert server.found(obs, ("value-quantity", f"ap{_number(value)}"))


@EXAMPLES
@given(value=_DECIMAL)
def test_number(server: Server, value: Decimal) -> None:
    obs = _observation(valueQuantity={"value": float(value), "unit": "1"})
    for prefix in ("", "eq", "ge", "le", "ap"):
        assert server.found(obs, ("value-number", prefix + _number(value))), prefix


@EXAMPLES
@given(id_=_ID, type_=st.sampled_from(["Patient", "Group", "Device"]))
def test_reference(server: Server, id_: str, type_: str) -> None:
    obs = _observation(subject={"reference": f"{type_}/{id_}"})
    assert server.found(obs, ("subject", f"{type_}/{id_}"))
    assert server.found(obs, (f"subject:{type_}", id_))
    assert server.found(obs, ("subject", f"{BASE}/{type_}/{id_}"))


@EXAMPLES
@given(source=_SYSTEM, tail=st.from_regex(r"\A(#[a-z0-9-]{1,8})?\Z"))
def test_uri(server: Server, source: str, tail: str) -> None:
    patient = {"resourceType": "Patient", "meta": {"source": source + tail}}
    assert server.found(patient, ("_source", source + tail))
    assert server.found(patient, ("_source:below", source))
    assert server.found(patient, ("_source:above", source + tail + "/more"))


@EXAMPLES
@given(system=_SYSTEM, code=_CODE, value=_DECIMAL, unit=_UNIT)
def test_composite(server: Server, system: str, code: str, value: Decimal, unit: str) -> None:
    obs = _observation(
        code={"coding": [{"system": system, "code": code}]},
        valueQuantity={"value": float(value), "system": UCUM, "code": unit},
    )
    quantity = f"{_number(value)}|{UCUM}|{escaped(unit)}"
    assert server.found(obs, ("code-value-quantity", f"{system}|{escaped(code)}${quantity}"))
