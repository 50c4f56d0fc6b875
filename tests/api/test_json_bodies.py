"""FHIR JSON bodies as written: a decimal keeps its text (R4 datatypes.html#decimal: precision is
significant) through every write and every read, and a body that gives a property twice or holds
a control character in a string is refused (400) on every entry point, storing nothing.

Bodies are sent as raw bytes: ``httpx``'s ``json=`` would parse nothing but also write ``1.50``
as ``1.5`` itself.
"""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.api.support import assert_outcome

FHIR = {"Content-Type": "application/fhir+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}

NUMBERS = ("1.50", "0.010", "1e2", "1180591620717411303424", "0.123456789012345678901234567890")
"""Trailing zeros, an exponent, 2^70 (beyond 64 bits) and 30 significant digits."""

OBSERVATION = (
    '{"resourceType":"Observation","status":"final","code":{"text":"glucose"},'
    '"subject":{"reference":"Patient/p1"},'
    '"valueQuantity":{"value":1.50,"unit":"mmol/L"},'
    '"referenceRange":[{"low":{"value":0.010},"high":{"value":1e2}}],'
    '"component":['
    '{"code":{"text":"a"},"valueQuantity":{"value":1180591620717411303424}},'
    '{"code":{"text":"b"},"valueQuantity":{"value":0.123456789012345678901234567890}}]}'
)
PATIENT = (
    '{"resourceType":"Patient","id":"p1","extension":[{"url":"http://example.org/weight",'
    '"valueDecimal":70.00}]}'
)


def assert_exact(raw: bytes, pretty: bool = False) -> None:
    """Every number of `OBSERVATION` appears in ``raw`` exactly as it was written."""
    sep = ": " if pretty else ":"
    for number in NUMBERS:
        assert f'"value"{sep}{number}'.encode() in raw, (number, raw)


def with_id(text: str, id_: str) -> str:
    return text.replace(
        '{"resourceType":"Observation",', f'{{"resourceType":"Observation","id":"{id_}",'
    )


async def create_observation(client: httpx.AsyncClient) -> str:
    if (await client.get("Patient/p1")).status_code == 404:  # the subject must exist
        made = await client.put(
            "Patient/p1", content='{"resourceType":"Patient","id":"p1"}', headers=FHIR
        )
        assert made.status_code == 201, made.text
    resp = await client.post("Observation", content=OBSERVATION, headers=FHIR)
    assert resp.status_code == 201, resp.text
    assert_exact(resp.content)
    return str(resp.json()["id"])


async def test_decimals_are_served_as_written_on_every_read(client: httpx.AsyncClient) -> None:
    resp = await client.put("Patient/p1", content=PATIENT, headers=FHIR)
    assert resp.status_code == 201, resp.text
    id_ = await create_observation(client)
    for url in (
        f"Observation/{id_}",
        f"Observation/{id_}/_history/1",
        f"Observation/{id_}/_history",
        "Observation/_history",
        f"Observation?_id={id_}",
        f"Observation?_id={id_}&_elements=valueQuantity,referenceRange,component",
        f"Observation/{id_}?_elements=valueQuantity,referenceRange,component",
        f"Observation/{id_}?_summary=data",
    ):
        resp = await client.get(url)
        assert resp.status_code == 200, (url, resp.text)
        assert_exact(resp.content)
    resp = await client.get(f"Observation/{id_}?_pretty=true")
    assert_exact(resp.content, pretty=True)
    resp = await client.get(f"Observation?_id={id_}&_include=Observation:subject")
    assert b'"valueDecimal":70.00' in resp.content, resp.text
    assert_exact(resp.content)
    resp = await client.post("Observation/_search", data={"_id": id_})
    assert_exact(resp.content)


async def test_decimals_survive_update_patch_and_transaction(client: httpx.AsyncClient) -> None:
    id_ = await create_observation(client)
    resp = await client.put(f"Observation/{id_}", content=with_id(OBSERVATION, id_), headers=FHIR)
    assert resp.status_code == 200, resp.text
    assert_exact(resp.content)

    # a patch changes what it names; every other number keeps its text
    ops = b'[{"op":"replace","path":"/status","value":"amended"}]'
    resp = await client.patch(f"Observation/{id_}", content=ops, headers=JSON_PATCH)
    assert resp.status_code == 200, resp.text
    assert_exact(resp.content)
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "replace"},
                    {"name": "path", "valueString": "Observation.status"},
                    {"name": "value", "valueCode": "corrected"},
                ],
            }
        ],
    }
    resp = await client.patch(f"Observation/{id_}", json=params)
    assert resp.status_code == 200, resp.text
    assert_exact(resp.content)
    ops = b'[{"op":"add","path":"/valueQuantity/value","value":2.50}]'
    resp = await client.patch(f"Observation/{id_}", content=ops, headers=JSON_PATCH)
    assert resp.status_code == 200, resp.text
    assert b'"valueQuantity":{"value":2.50,' in resp.content
    read = await client.get(f"Observation/{id_}")
    assert read.content == resp.content
    history = await client.get(f"Observation/{id_}/_history")
    assert history.content.count(b'"value":0.010') == 5  # every version

    bundle = (
        '{"resourceType":"Bundle","type":"transaction","entry":['
        f'{{"fullUrl":"urn:uuid:2b1a3c1e-0c7c-4b53-9a55-1d7c2f0a6e01","resource":{OBSERVATION},'
        '"request":{"method":"POST","url":"Observation"}}]}'
    )
    resp = await client.post("", content=bundle, headers=FHIR)
    assert resp.status_code == 200, resp.text
    assert_exact(resp.content)
    location = resp.json()["entry"][0]["response"]["location"]
    assert_exact((await client.get(location)).content)


async def test_decimal_search_follows_the_precision_of_the_search_value(
    client: httpx.AsyncClient,
) -> None:
    """search.html#number: the stored 1.50 is the value 1.5, matched by any search value whose
    precision range holds it."""
    id_ = await create_observation(client)
    for value, hit in (("1.5", True), ("1.50", True), ("1.500", True), ("1.51", False)):
        resp = await client.get("Observation", params={"value-quantity": value})
        ids = [e["resource"]["id"] for e in resp.json().get("entry", [])]
        assert ids == ([id_] if hit else []), value


async def test_integers_stay_integers(client: httpx.AsyncClient) -> None:
    """An exponent or 2^70 is a decimal, never an R4 integer (32 bits, no exponent)."""
    for number in ("1e2", "1180591620717411303424"):
        body = f'{{"resourceType":"Patient","multipleBirthInteger":{number}}}'
        resp = await client.post("Patient", content=body, headers=FHIR)
        assert_outcome(resp, 400, "structure", ["Patient.multipleBirthInteger"])
    resp = await client.post(
        "Patient", content='{"resourceType":"Patient","multipleBirthInteger":2}', headers=FHIR
    )
    assert resp.status_code == 201, resp.text
    assert b'"multipleBirthInteger":2' in resp.content


# --- refused bodies -----------------------------------------------------------------------------


async def assert_nothing_stored(client: httpx.AsyncClient) -> None:
    for type_ in ("Patient", "Observation"):
        resp = await client.get(type_, params={"_total": "accurate"})
        assert resp.json()["total"] == 0, resp.text


async def test_a_property_given_twice_is_refused(client: httpx.AsyncClient) -> None:
    body = (
        '{"resourceType":"Patient","resourceType":"Observation",'
        '"status":"final","code":{"text":"x"}}'
    )
    for type_ in ("Observation", "Patient"):
        resp = await client.post(type_, content=body, headers=FHIR)
        assert_outcome(resp, 400, "structure", ["resourceType"])
    body = '{"resourceType":"Patient","name":[{"family":"Hansen","given":["A"],"family":"Jensen"}]}'
    resp = await client.post("Patient", content=body, headers=FHIR)
    assert_outcome(resp, 400, "structure", ["Patient.name[0].family"])
    assert "'family'" in resp.json()["issue"][0]["diagnostics"]
    await assert_nothing_stored(client)


async def test_a_property_given_twice_is_refused_on_every_entry_point(
    client: httpx.AsyncClient,
) -> None:
    await client.put("Patient/p1", content='{"resourceType":"Patient","id":"p1"}', headers=FHIR)
    twice = '{"resourceType":"Patient","id":"p1","gender":"male","gender":"female"}'
    resp = await client.put("Patient/p1", content=twice, headers=FHIR)
    assert_outcome(resp, 400, "structure", ["Patient.gender"])
    ops = '[{"op":"add","path":"/gender","value":"male","value":"female"}]'
    resp = await client.patch("Patient/p1", content=ops, headers=JSON_PATCH)
    assert_outcome(resp, 400, "structure", ["[0].value"])
    params = (
        '{"resourceType":"Parameters","parameter":[{"name":"operation","part":['
        '{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},'
        '{"name":"name","valueString":"gender"},{"name":"value","valueCode":"male"},'
        '{"name":"value","valueCode":"female","valueCode":"other"}]}]}'
    )
    resp = await client.patch("Patient/p1", content=params, headers=FHIR)
    assert_outcome(resp, 400, "structure", ["Parameters.parameter[0].part[4].valueCode"])
    for kind in ("transaction", "batch"):
        bundle = (
            f'{{"resourceType":"Bundle","type":"{kind}","entry":[{{"resource":{twice},'
            '"request":{"method":"PUT","url":"Patient/p1"}}]}'
        )
        resp = await client.post("", content=bundle, headers=FHIR)
        assert_outcome(resp, 400, "structure", ["Bundle.entry[0].resource.gender"])
    resp = await client.post("Patient/$validate", content=twice, headers=FHIR)
    assert_outcome(resp, 400, "structure", ["Patient.gender"])
    read = await client.get("Patient/p1")
    assert read.json()["meta"]["versionId"] == "1" and "gender" not in read.json()


@pytest.mark.parametrize("escape", ["\\u0000", "\\u0001", "\\u001f", "\\b", "\\f", "\\u000b"])
async def test_a_control_character_in_a_string_is_refused(
    client: httpx.AsyncClient, escape: str
) -> None:
    body = f'{{"resourceType":"Patient","name":[{{"family":"Han{escape}sen"}}]}}'
    resp = await client.post("Patient", content=body, headers=FHIR)
    assert_outcome(resp, 400, "invalid", ["Patient.name[0].family"])
    assert "control character" in resp.json()["issue"][0]["diagnostics"]
    await assert_nothing_stored(client)


async def test_tab_cr_and_lf_are_allowed(client: httpx.AsyncClient) -> None:
    body = r'{"resourceType":"Patient","name":[{"text":"a\tb\r\nc \\b \\u0000 \u00e6"}]}'
    resp = await client.post("Patient", content=body, headers=FHIR)
    assert resp.status_code == 201, resp.text
    assert resp.json()["name"][0]["text"] == "a\tb\r\nc \\b \\u0000 æ"


async def test_a_nul_is_refused_on_every_entry_point(client: httpx.AsyncClient) -> None:
    await client.put("Patient/p1", content='{"resourceType":"Patient","id":"p1"}', headers=FHIR)
    nul = '{"resourceType":"Patient","id":"p1","name":[{"family":"a\\u0000"}]}'
    resp = await client.put("Patient/p1", content=nul, headers=FHIR)
    assert_outcome(resp, 400, "invalid", ["Patient.name[0].family"])
    ops = '[{"op":"add","path":"/name","value":[{"family":"a\\u0000"}]}]'
    resp = await client.patch("Patient/p1", content=ops, headers=JSON_PATCH)
    assert_outcome(resp, 400, "invalid", ["[0].value[0].family"])
    params = (
        '{"resourceType":"Parameters","parameter":[{"name":"operation","part":['
        '{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},'
        '{"name":"name","valueString":"gender"},{"name":"value","valueCode":"ma\\u0000le"}]}]}'
    )
    resp = await client.patch("Patient/p1", content=params, headers=FHIR)
    assert_outcome(resp, 400, "invalid", ["Parameters.parameter[0].part[3].valueCode"])
    for kind in ("transaction", "batch"):
        bundle = (
            f'{{"resourceType":"Bundle","type":"{kind}","entry":[{{"resource":{nul},'
            '"request":{"method":"PUT","url":"Patient/p1"}}]}'
        )
        resp = await client.post("", content=bundle, headers=FHIR)
        assert_outcome(resp, 400, "invalid", ["Bundle.entry[0].resource.name[0].family"])
    resp = await client.post("Patient/$validate", content=nul, headers=FHIR)
    assert_outcome(resp, 400, "invalid", ["Patient.name[0].family"])
    wrapped = (
        f'{{"resourceType":"Parameters","parameter":[{{"name":"resource","resource":{nul}}}]}}'
    )
    resp = await client.post("Patient/$validate", content=wrapped, headers=FHIR)
    assert_outcome(resp, 400, "invalid", ["Parameters.parameter[0].resource.name[0].family"])
    read = await client.get("Patient/p1")
    assert read.json()["meta"]["versionId"] == "1" and "name" not in read.json()
    assert orjson.loads(read.content)["id"] == "p1"
