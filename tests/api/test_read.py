"""read and vread (http.html#read, #vread), conditional read (#cread), `_summary`/`_elements`
(search.html#summary, #elements) and `_pretty`."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import httpx

from fhir_server.representation import SUBSETTED
from tests.api.support import (
    FHIR_JSON,
    assert_outcome,
    create,
    minimal,
    patient,
    put_ok,
    version_of,
)


async def test_read_returns_the_resource_with_etag_and_last_modified(
    client: httpx.AsyncClient,
) -> None:
    made = await create(client, patient("Hansen", "0101010101", gender="female"))
    resp = await client.get(f"Patient/{made['id']}")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == FHIR_JSON
    assert resp.headers["etag"] == 'W/"1"'
    body = resp.json()
    assert body == made
    assert body["id"] == made["id"]
    assert body["meta"]["versionId"] == "1"
    assert body["gender"] == "female"
    assert resp.headers["last-modified"].endswith(" GMT")
    modified = parsedate_to_datetime(resp.headers["last-modified"])
    updated = datetime.fromisoformat(body["meta"]["lastUpdated"])
    assert modified == updated.replace(microsecond=0)


async def test_vread_returns_each_version(client: httpx.AsyncClient) -> None:
    made = await create(client, patient("First"))
    await put_ok(client, {**made, "name": [{"family": "Second"}]})
    for vid, family in ((1, "First"), (2, "Second")):
        resp = await client.get(f"Patient/{made['id']}/_history/{vid}")
        assert resp.status_code == 200
        assert resp.headers["etag"] == f'W/"{vid}"'
        body = resp.json()
        assert body["meta"]["versionId"] == str(vid)
        assert body["name"] == [{"family": family}]
    assert_outcome(
        await client.get(f"Patient/{made['id']}/_history/3"),
        404,
        "not-found",
        [f"Patient/{made['id']}"],
    )
    assert_outcome(
        await client.get(f"Patient/{made['id']}/_history/x1"), 400, "invalid", ["versionId"]
    )


async def test_read_unknown_is_404(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.get("Patient/nope"), 404, "not-found", ["Patient/nope"])
    assert_outcome(await client.get("Patient/nope/_history/1"), 404, "not-found", ["Patient/nope"])
    # the same id under another type is another resource
    made = await create(client, patient())
    assert_outcome(
        await client.get(f"Practitioner/{made['id']}"),
        404,
        "not-found",
        [f"Practitioner/{made['id']}"],
    )


async def test_read_after_delete_is_410_and_old_versions_remain(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    assert (await client.delete(f"Patient/{made['id']}")).status_code == 204
    assert_outcome(
        await client.get(f"Patient/{made['id']}"), 410, "deleted", [f"Patient/{made['id']}"]
    )
    assert_outcome(
        await client.get(f"Patient/{made['id']}/_history/2"),
        410,
        "deleted",
        [f"Patient/{made['id']}"],
    )
    old = await client.get(f"Patient/{made['id']}/_history/1")
    assert old.status_code == 200
    assert old.json() == made


async def test_if_none_match_gives_304_only_for_the_current_version(
    client: httpx.AsyncClient,
) -> None:
    made = await create(client, patient())
    rid = made["id"]
    resp = await client.get(f"Patient/{rid}", headers={"If-None-Match": 'W/"1"'})
    assert resp.status_code == 304
    assert resp.content == b""
    assert resp.headers["etag"] == 'W/"1"'
    assert "content-type" not in resp.headers
    assert (await client.get(f"Patient/{rid}", headers={"If-None-Match": "*"})).status_code == 304
    await put_ok(client, {**made, "active": True})
    resp = await client.get(f"Patient/{rid}", headers={"If-None-Match": 'W/"1"'})
    assert resp.status_code == 200
    assert version_of(resp) == 2
    assert resp.json()["active"] is True
    resp = await client.get(f"Patient/{rid}", headers={"If-None-Match": 'W/"2"'})
    assert resp.status_code == 304
    # vread honours it too
    resp = await client.get(f"Patient/{rid}/_history/1", headers={"If-None-Match": 'W/"1"'})
    assert resp.status_code == 304


async def test_if_modified_since_gives_304_when_unchanged(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    first = await client.get(f"Patient/{made['id']}")
    last_modified = first.headers["last-modified"]
    resp = await client.get(f"Patient/{made['id']}", headers={"If-Modified-Since": last_modified})
    assert resp.status_code == 304
    assert resp.content == b""
    assert resp.headers["etag"] == 'W/"1"'
    earlier = format_datetime(parsedate_to_datetime(last_modified) - timedelta(seconds=1), True)
    resp = await client.get(f"Patient/{made['id']}", headers={"If-Modified-Since": earlier})
    assert resp.status_code == 200
    assert resp.json() == made
    # an unparseable date is ignored (RFC 9110 §13.1.3)
    resp = await client.get(f"Patient/{made['id']}", headers={"If-Modified-Since": "yesterday"})
    assert resp.status_code == 200


def _tags(body: dict) -> list[dict]:
    return body.get("meta", {}).get("tag", [])


async def test_summary_modes(client: httpx.AsyncClient) -> None:
    text = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Hi</div>'}
    made = await create(
        client,
        patient(
            "Hansen",
            "0101010101",
            text=text,
            gender="male",
            birthDate="1970-01-01",
            maritalStatus={"text": "married"},
            contact=[{"name": {"family": "Olsen"}}],
        ),
    )
    rid = made["id"]

    body = (await client.get(f"Patient/{rid}", params={"_summary": "true"})).json()
    assert sorted(body) == [
        "birthDate",
        "gender",
        "id",
        "identifier",
        "meta",
        "name",
        "resourceType",
    ]
    assert _tags(body) == [SUBSETTED]
    assert body["meta"]["versionId"] == "1"

    body = (await client.get(f"Patient/{rid}", params={"_summary": "text"})).json()
    assert sorted(body) == ["id", "meta", "resourceType", "text"]
    assert body["text"] == text
    assert _tags(body) == [SUBSETTED]

    body = (await client.get(f"Patient/{rid}", params={"_summary": "data"})).json()
    assert "text" not in body
    assert body["contact"] == [{"name": {"family": "Olsen"}}]
    assert body["maritalStatus"] == {"text": "married"}
    assert _tags(body) == [SUBSETTED]

    resp = await client.get(f"Patient/{rid}", params={"_summary": "false"})
    assert resp.json() == made
    assert _tags(resp.json()) == []

    assert_outcome(
        await client.get(f"Patient/{rid}", params={"_summary": "most"}),
        400,
        "invalid",
        ["_summary"],
    )


async def test_summary_text_keeps_mandatory_elements(client: httpx.AsyncClient) -> None:
    await put_ok(client, {"resourceType": "Patient", "id": "p"})  # the subject must exist
    made = await create(
        client, minimal("Observation", subject={"reference": "Patient/p"}, valueString="x")
    )
    body = (await client.get(f"Observation/{made['id']}", params={"_summary": "text"})).json()
    # status (1..1 primitive) and code (1..1 complex) are mandatory; the rest is not
    assert sorted(body) == ["code", "id", "meta", "resourceType", "status"]
    # a mandatory primitive may be carried by its extension alone
    absent = {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                "valueCode": "unknown",
            }
        ]
    }
    made = await create(
        client,
        {
            "resourceType": "Observation",
            "_status": absent,
            "code": {"text": "x"},
            "valueString": "y",
        },
    )
    body = (await client.get(f"Observation/{made['id']}", params={"_summary": "text"})).json()
    assert sorted(body) == ["_status", "code", "id", "meta", "resourceType"]


async def test_elements_keeps_the_named_elements_and_marks_subsetted(
    client: httpx.AsyncClient,
) -> None:
    made = await create(client, patient("Hansen", "0101010101", gender="male", active=True))
    resp = await client.get(f"Patient/{made['id']}", params={"_elements": "name,gender"})
    assert resp.status_code == 200
    body = resp.json()
    assert sorted(body) == ["gender", "id", "meta", "name", "resourceType"]
    assert body["name"] == [{"family": "Hansen"}]
    assert _tags(body) == [SUBSETTED]

    obs = await create(client, minimal("Observation", valueString="x"))
    body = (
        await client.get(f"Observation/{obs['id']}", params={"_elements": "valueString"})
    ).json()
    assert sorted(body) == ["code", "id", "meta", "resourceType", "status", "valueString"]

    assert_outcome(
        await client.get(f"Patient/{made['id']}", params={"_elements": " , "}),
        400,
        "invalid",
        ["_elements"],
    )


async def test_pretty_indents_the_same_json(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    plain = await client.get(f"Patient/{made['id']}")
    pretty = await client.get(f"Patient/{made['id']}", params={"_pretty": "true"})
    assert b"\n" not in plain.content
    assert b'\n  "resourceType"' in pretty.content
    assert pretty.json() == plain.json()
    assert pretty.headers["etag"] == 'W/"1"'
    not_pretty = await client.get(f"Patient/{made['id']}", params={"_pretty": "false"})
    assert not_pretty.content == plain.content


async def test_invalid_id_is_400(client: httpx.AsyncClient) -> None:
    for bad in ("bad%20id", "a_b", "x" * 65, "%C3%A6"):
        assert_outcome(await client.get(f"Patient/{bad}"), 400, "invalid", ["id"])
    assert (await client.get(f"Patient/{'x' * 64}")).status_code == 404


async def test_path_segments_are_decoded_exactly_once(client: httpx.AsyncClient) -> None:
    await put_ok(client, {**patient(), "id": "A"})
    assert (await client.get("Patient/%41")).json()["id"] == "A"  # %41 is "A"
    # "%2541" is the id "%41", not "A"; "%2F" is inside the segment, not a separator
    assert_outcome(await client.get("Patient/%2541"), 400, "invalid", ["id"])
    assert_outcome(await client.get("Patient/a%2Fb"), 400, "invalid", ["id"])
    assert_outcome(await client.get("Patient/%2541", params={"_pretty": "true"}), 400, "invalid")
