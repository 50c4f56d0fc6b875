"""patch (http.html#patch): JSON Patch (RFC 6902) and FHIRPath Patch (fhirpatch.html)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.support import (
    BASE,
    CPR,
    assert_outcome,
    create,
    expressions,
    patient,
    version_of,
)

JSON_PATCH = {"Content-Type": "application/json-patch+json"}


async def json_patch(
    client: httpx.AsyncClient, url: str, ops: Any, **headers: str
) -> httpx.Response:
    return await client.patch(url, json=ops, headers={**JSON_PATCH, **headers})


def op(type_: str, path: str, **parts: Any) -> dict[str, Any]:
    """One FHIRPath Patch operation; ``value`` is a ``{"valueX": ...}`` or ``{"part": [...]}``."""
    out = [{"name": "type", "valueCode": type_}, {"name": "path", "valueString": path}]
    for name, value in parts.items():
        if name == "value":
            out.append({"name": "value", **value})
        elif name in ("index", "source", "destination"):
            out.append({"name": name, "valueInteger": value})
        else:
            out.append({"name": name, "valueString": value})
    return {"name": "operation", "part": out}


async def fhirpath_patch(
    client: httpx.AsyncClient, url: str, *ops: dict[str, Any], **headers: str
) -> httpx.Response:
    doc = {"resourceType": "Parameters", "parameter": list(ops)}
    return await client.patch(url, json=doc, headers=headers)


def rich_patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": CPR, "value": "0101010101"},
            {"system": "http://example.org/mrn", "value": "m-1"},
        ],
        "name": [{"family": "Hansen", "given": ["Anna", "Bo", "Cim"]}],
        "gender": "female",
    }


# --- JSON Patch ---------------------------------------------------------------------------------


async def test_json_patch_add_replace_remove(client: httpx.AsyncClient) -> None:
    made = await create(client, rich_patient())
    url = f"Patient/{made['id']}"
    resp = await json_patch(
        client,
        url,
        [
            {"op": "add", "path": "/birthDate", "value": "1970-01-01"},
            {"op": "add", "path": "/name/0/given/-", "value": "Dan"},
            {"op": "replace", "path": "/gender", "value": "other"},
            {"op": "remove", "path": "/identifier/1"},
            {"op": "test", "path": "/name/0/family", "value": "Hansen"},
        ],
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["etag"] == 'W/"2"'
    assert resp.headers["content-location"] == f"{BASE}/{url}/_history/2"
    body = resp.json()
    assert body["birthDate"] == "1970-01-01"
    assert body["name"][0]["given"] == ["Anna", "Bo", "Cim", "Dan"]
    assert body["gender"] == "other"
    assert body["identifier"] == [{"system": CPR, "value": "0101010101"}]
    assert body["meta"]["versionId"] == "2"
    assert (await client.get(url)).json() == body
    history = (await client.get(f"{url}/_history")).json()
    assert history["entry"][0]["request"] == {"method": "PATCH", "url": url}


async def test_json_patch_test_failure_is_422_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    made = await create(client, rich_patient())
    url = f"Patient/{made['id']}"
    resp = await json_patch(
        client,
        url,
        [
            {"op": "replace", "path": "/gender", "value": "male"},
            {"op": "test", "path": "/name/0/family", "value": "Olsen"},
        ],
    )
    assert_outcome(resp, 422, "processing")
    assert_outcome(
        await json_patch(client, url, [{"op": "remove", "path": "/birthDate"}]), 422, "processing"
    )
    assert (await client.get(url)).json() == made


async def test_invalid_json_patch_document_is_400(client: httpx.AsyncClient) -> None:
    made = await create(client, rich_patient())
    url = f"Patient/{made['id']}"
    for doc in (
        {"op": "add", "path": "/active", "value": True},  # not an array
        [{"op": "frobnicate", "path": "/active"}],
        [{"op": "add", "path": "/active"}],  # no value
        [{"path": "/active", "value": True}],  # no op
        [{"op": "add", "path": "active", "value": True}],  # not a JSON pointer
        ["add"],
    ):
        assert_outcome(await json_patch(client, url, doc), 400, "invalid")
    resp = await client.patch(url, content=b"[{", headers=JSON_PATCH)
    assert_outcome(resp, 400, "invalid")
    assert version_of(await client.get(url)) == 1


async def test_patch_producing_an_invalid_resource_is_400(client: httpx.AsyncClient) -> None:
    made = await create(client, rich_patient())
    url = f"Patient/{made['id']}"
    resp = await json_patch(client, url, [{"op": "add", "path": "/birthDate", "value": "soon"}])
    assert_outcome(resp, 400, "value", ["Patient.birthDate"])
    resp = await json_patch(client, url, [{"op": "add", "path": "/colour", "value": "blue"}])
    assert_outcome(resp, 400, "structure", ["Patient.colour"])
    resp = await json_patch(client, url, [{"op": "add", "path": "/active", "value": "yes"}])
    assert_outcome(resp, 400, "structure", ["Patient.active"])
    resp = await fhirpath_patch(
        client, url, op("replace", "Patient.name[0].given[1]", value={"valueInteger": 3})
    )
    assert_outcome(resp, 400, "structure", ["Patient.name[0].given[1]"])
    assert (await client.get(url)).json() == made


async def test_patch_must_not_change_the_id_or_type(client: httpx.AsyncClient) -> None:
    made = await create(client, rich_patient())
    url = f"Patient/{made['id']}"
    for ops in (
        [{"op": "replace", "path": "/id", "value": "other"}],
        [{"op": "remove", "path": "/id"}],
        [{"op": "replace", "path": "/resourceType", "value": "Practitioner"}],
    ):
        assert_outcome(await json_patch(client, url, ops), 400, "invalid", ["Patient.id"])
    resp = await fhirpath_patch(client, url, op("replace", "Patient.id", value={"valueId": "x"}))
    assert_outcome(resp, 400, "invalid", ["Patient.id"])
    assert_outcome(await client.get("Patient/other"), 404, "not-found")


# --- FHIRPath Patch -----------------------------------------------------------------------------


async def test_fhirpath_patch_add(client: httpx.AsyncClient) -> None:
    made = await create(client, rich_patient())
    url = f"Patient/{made['id']}"
    resp = await fhirpath_patch(
        client,
        url,
        op("add", "Patient", name="birthDate", value={"valueDate": "1930-01-01"}),
        op("add", "Patient.name[0]", name="given", value={"valueString": "Dan"}),
        op(
            "add",
            "Patient",
            name="telecom",
            value={"valueContactPoint": {"system": "phone", "value": "1234"}},
        ),
        op(
            "add",
            "Patient",
            name="contact",
            value={"part": [{"name": "name", "valueHumanName": {"text": "a name"}}]},
        ),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["birthDate"] == "1930-01-01"
    assert body["name"][0]["given"] == ["Anna", "Bo", "Cim", "Dan"]
    assert body["telecom"] == [{"system": "phone", "value": "1234"}]
    assert body["contact"] == [{"name": {"text": "a name"}}]
    assert body["meta"]["versionId"] == "2"
    # add to a single element that has a value already
    resp = await fhirpath_patch(
        client, url, op("add", "Patient", name="gender", value={"valueCode": "male"})
    )
    assert_outcome(resp, 422, "processing")


async def test_fhirpath_patch_add_below_the_root_repeats_as_r4_defines(
    client: httpx.AsyncClient,
) -> None:
    """Whether an absent element is added as a list is its R4 definition's max, followed into
    data types (HumanName), backbone elements (Patient.contact) and contained resources."""
    made = await create(
        client,
        {
            "resourceType": "Patient",
            "name": [{"text": "x"}],
            "contact": [{"gender": "female", "name": {"text": "y"}}],
            "contained": [{"resourceType": "Organization", "id": "o", "name": "O"}],
            "managingOrganization": {"reference": "#o"},
        },
    )
    url = f"Patient/{made['id']}"
    resp = await fhirpath_patch(
        client,
        url,
        op("add", "Patient.name[0]", name="given", value={"valueString": "Dan"}),
        op("add", "Patient.name[0]", name="family", value={"valueString": "Hansen"}),
        op(
            "add",
            "Patient.contact[0]",
            name="telecom",
            value={"valueContactPoint": {"system": "phone", "value": "1"}},
        ),
        op("add", "Patient.contact[0]", name="address", value={"valueAddress": {"city": "Ry"}}),
        op("add", "Patient.contained[0]", name="alias", value={"valueString": "O"}),
        op("add", "Patient.contained[0]", name="active", value={"valueBoolean": True}),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["name"][0] == {"text": "x", "given": ["Dan"], "family": "Hansen"}
    assert body["contact"][0]["telecom"] == [{"system": "phone", "value": "1"}]
    assert body["contact"][0]["address"] == {"city": "Ry"}
    assert body["contained"][0]["alias"] == ["O"]
    assert body["contained"][0]["active"] is True


async def test_fhirpath_patch_insert_and_move(client: httpx.AsyncClient) -> None:
    made = await create(client, rich_patient())
    url = f"Patient/{made['id']}"
    resp = await fhirpath_patch(
        client,
        url,
        op("insert", "Patient.name[0].given", index=0, value={"valueString": "Zed"}),
        op("insert", "Patient.name[0].given", index=4, value={"valueString": "End"}),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"][0]["given"] == ["Zed", "Anna", "Bo", "Cim", "End"]
    resp = await fhirpath_patch(
        client, url, op("move", "Patient.name[0].given", source=0, destination=3)
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"][0]["given"] == ["Anna", "Bo", "Cim", "Zed", "End"]
    resp = await fhirpath_patch(
        client, url, op("move", "Patient.identifier", source=1, destination=0)
    )
    assert [i["value"] for i in resp.json()["identifier"]] == ["m-1", "0101010101"]
    # an index past the end of the list is an error, never clamped
    resp = await fhirpath_patch(
        client, url, op("insert", "Patient.name[0].given", index=9, value={"valueString": "x"})
    )
    assert_outcome(resp, 422, "processing")
    resp = await fhirpath_patch(
        client, url, op("move", "Patient.name[0].given", source=0, destination=5)
    )
    assert_outcome(resp, 422, "processing")
    resp = await fhirpath_patch(
        client, url, op("insert", "Patient.gender", index=0, value={"valueCode": "male"})
    )
    assert_outcome(resp, 422, "processing", ["Patient.gender"])
    assert version_of(await client.get(url)) == 4


async def test_fhirpath_patch_delete_and_replace_with_where(client: httpx.AsyncClient) -> None:
    made = await create(client, rich_patient())
    url = f"Patient/{made['id']}"
    resp = await fhirpath_patch(
        client,
        url,
        op(
            "replace",
            "Patient.identifier.where(system='http://example.org/mrn').value",
            value={"valueString": "m-2"},
        ),
        op("delete", f"Patient.identifier.where(system='{CPR}')"),
        op("delete", "Patient.name[0].given.where($this = 'Bo')"),
        op("replace", "Patient.name.first().family", value={"valueString": "Olsen"}),
        op("replace", "Patient.gender", value={"valueCode": "male"}),
        op("delete", "Patient.birthDate"),  # deleting what is absent is no error
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["identifier"] == [{"system": "http://example.org/mrn", "value": "m-2"}]
    assert body["name"] == [{"family": "Olsen", "given": ["Anna", "Cim"]}]
    assert body["gender"] == "male"
    resp = await fhirpath_patch(client, url, op("delete", "Patient.gender"))
    assert "gender" not in resp.json()


async def test_fhirpath_patch_path_errors(client: httpx.AsyncClient) -> None:
    made = await create(client, rich_patient())
    url = f"Patient/{made['id']}"
    # matches nothing (only delete tolerates that)
    resp = await fhirpath_patch(
        client, url, op("replace", "Patient.birthDate", value={"valueDate": "2000-01-01"})
    )
    assert_outcome(resp, 422, "processing", ["Patient.birthDate"])
    # matches more than one
    resp = await fhirpath_patch(client, url, op("delete", "Patient.name[0].given"))
    assert_outcome(resp, 422, "processing", ["Patient.name[0].given"])
    resp = await fhirpath_patch(
        client, url, op("replace", "Patient.identifier.value", value={"valueString": "x"})
    )
    assert_outcome(resp, 422, "processing", ["Patient.identifier.value"])
    # not FHIRPath this server navigates / not an operation
    resp = await fhirpath_patch(client, url, op("delete", "Patient.name.resolve()"))
    assert_outcome(resp, 400, "invalid", ["path"])
    resp = await fhirpath_patch(client, url, op("rename", "Patient.gender"))
    assert_outcome(resp, 400, "invalid")
    resp = await fhirpath_patch(client, url, op("delete", "Patient"))
    assert_outcome(resp, 400, "invalid", ["path"])
    resp = await fhirpath_patch(client, url, op("delete", "Patient.name.where(frobnicate())"))
    assert_outcome(resp, 400, "invalid", ["path"])
    doc = {"resourceType": "Parameters", "parameter": [{"name": "op", "part": []}]}
    assert_outcome(await client.patch(url, json=doc), 400, "invalid", ["Parameters.parameter"])
    # a Parameters resource that is not one
    for doc, where in (
        (
            {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": "x"}]},
            "Parameters.parameter[0].part",
        ),
        ({"resourceType": "Parameters", "parameter": ["operation"]}, "Parameters.parameter[0]"),
        ({"resourceType": "Parameters", "parameter": {}}, "Parameters.parameter"),
    ):
        outcome = assert_outcome(await client.patch(url, json=doc), 400, "structure")
        assert expressions(outcome)[0].startswith(where), outcome
    assert (await client.get(url)).json() == made


# --- Version awareness, conditional patch, media types -------------------------------------------


async def test_patch_with_if_match(client: httpx.AsyncClient) -> None:
    made = await create(client, rich_patient())
    url = f"Patient/{made['id']}"
    ops = [{"op": "replace", "path": "/gender", "value": "male"}]
    assert_outcome(
        await json_patch(client, url, ops, **{"If-Match": 'W/"2"'}), 412, "conflict", [url]
    )
    resp = await json_patch(client, url, ops, **{"If-Match": 'W/"1"'})
    assert resp.status_code == 200
    assert resp.headers["etag"] == 'W/"2"'
    resp = await fhirpath_patch(
        client, url, op("delete", "Patient.gender"), **{"If-Match": 'W/"1"'}
    )
    assert_outcome(resp, 412, "conflict", [url])
    assert (await client.get(url)).json()["gender"] == "male"


async def test_patch_of_missing_or_deleted_resource(client: httpx.AsyncClient) -> None:
    ops = [{"op": "replace", "path": "/gender", "value": "male"}]
    assert_outcome(
        await json_patch(client, "Patient/none", ops), 404, "not-found", ["Patient/none"]
    )
    made = await create(client, rich_patient())
    await client.delete(f"Patient/{made['id']}")
    assert_outcome(
        await json_patch(client, f"Patient/{made['id']}", ops),
        410,
        "deleted",
        [f"Patient/{made['id']}"],
    )


async def test_conditional_patch(client: httpx.AsyncClient) -> None:
    one = await create(client, rich_patient())
    ops = [{"op": "replace", "path": "/gender", "value": "male"}]
    criteria = f"identifier={CPR}|0101010101"
    resp = await json_patch(client, f"Patient?{criteria}", ops)
    assert resp.status_code == 200
    assert resp.json()["id"] == one["id"]
    assert resp.json()["gender"] == "male"

    missing = f"identifier={CPR}|9999999999"
    assert_outcome(
        await json_patch(client, f"Patient?{missing}", ops),
        404,
        "not-found",
        [f"Patient?{missing}"],
    )

    await create(client, rich_patient())
    assert_outcome(
        await fhirpath_patch(client, f"Patient?{criteria}", op("delete", "Patient.gender")),
        412,
        "multiple-matches",
        [f"Patient?{criteria}"],
    )
    assert_outcome(
        await json_patch(client, "Patient?shoe-size=44", ops), 400, "invalid", ["shoe-size"]
    )
    assert version_of(await client.get(f"Patient/{one['id']}")) == 2


async def test_patch_content_types(client: httpx.AsyncClient) -> None:
    made = await create(client, rich_patient())
    url = f"Patient/{made['id']}"
    ops = b'[{"op": "replace", "path": "/gender", "value": "male"}]'
    for media in ("text/plain", "application/xml-patch+xml", "application/merge-patch+json"):
        resp = await client.patch(url, content=ops, headers={"Content-Type": media})
        assert_outcome(resp, 415, "not-supported")
    # a FHIR media type with a body that is not a Parameters resource
    resp = await client.patch(url, content=ops, headers={"Content-Type": "application/fhir+json"})
    assert_outcome(resp, 400, "invalid")
    resp = await client.patch(
        url, json=patient(), headers={"Content-Type": "application/fhir+json"}
    )
    assert_outcome(resp, 400, "invalid")
    assert version_of(await client.get(url)) == 1
    # the parameters of the media type do not matter
    resp = await client.patch(
        url, content=ops, headers={"Content-Type": "application/json-patch+json; charset=utf-8"}
    )
    assert resp.status_code == 200


async def test_patch_prefer_minimal(client: httpx.AsyncClient) -> None:
    made = await create(client, rich_patient())
    resp = await json_patch(
        client,
        f"Patient/{made['id']}",
        [{"op": "replace", "path": "/gender", "value": "male"}],
        Prefer="return=minimal",
    )
    assert resp.status_code == 200
    assert resp.content == b""
    assert resp.headers["etag"] == 'W/"2"'
