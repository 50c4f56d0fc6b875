"""Nothing reveals that a resource the caller may not see exists: every write, history page and
version read on another citizen's resource is answered exactly as on an id that never existed —
same status, same OperationOutcome issue code and text, same headers — and leaves it untouched.

Each oracle is tested as a pair: (hidden existing resource) against (never-existing id)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.auth.conftest import Server, delete_cp2, issue, mint

SCOPES = (
    "launch/patient patient/Patient.rs patient/CarePlan.cruds patient/Practitioner.rs"
    " patient/Observation.rs patient/Medication.rs"
)
ADMIN = mint("system/*.cruds")
P1 = mint(SCOPES, patient="p1")
NEVER = "never-was"
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
REVOKE = [{"op": "replace", "path": "/status", "value": "revoked"}]
_HEADERS = ("etag", "location", "content-location", "last-modified", "allow", "content-type")


def plan(patient: str, id_: str | None = None, status: str = "active") -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": status,
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient}"},
    }
    return {**out, "id": id_} if id_ else out


def same(
    hidden: httpx.Response, never: httpx.Response, hidden_id: str = "cp2", never_id: str = NEVER
) -> None:
    """The two answers are indistinguishable once the ids are swapped (a Bundle's own id and
    time aside)."""
    assert hidden.status_code == never.status_code, (hidden.text, never.text)
    for name in _HEADERS:
        a = (hidden.headers.get(name) or "").replace(hidden_id, never_id)
        assert a == (never.headers.get(name) or ""), name
    if never.content:
        a, b = json.loads(hidden.text.replace(hidden_id, never_id)), never.json()
        for doc in (a, b):
            if doc.get("resourceType") == "Bundle":
                del doc["id"], doc["meta"]
        assert a == b
    else:
        assert not hidden.content


async def untouched(server: Server, id_: str = "cp2", version: str = "1") -> None:
    resp = await server.get(f"CarePlan/{id_}", ADMIN)
    assert resp.status_code == 200 and resp.json()["meta"]["versionId"] == version
    assert resp.json()["subject"] == {"reference": "Patient/p2"}
    assert (await server.get(f"CarePlan/{NEVER}", ADMIN)).status_code == 404


async def pair(server: Server, method: str, url: str, body: Any = None, **headers: str) -> None:
    """``url`` with ``{id}``: asked for cp2 (p2's) and for an id no resource ever had."""
    hidden_body = never_body = body
    if isinstance(body, dict) and body.get("id") == "{id}":
        hidden_body, never_body = {**body, "id": "cp2"}, {**body, "id": NEVER}
    hidden = await server.send(method, url.format(id="cp2"), P1, hidden_body, **headers)
    never = await server.send(method, url.format(id=NEVER), P1, never_body, **headers)
    same(hidden, never)


async def test_delete(server: Server) -> None:
    await pair(server, "DELETE", "CarePlan/{id}")
    await pair(server, "DELETE", "CarePlan/{id}", **{"If-Match": 'W/"1"'})
    await untouched(server)


async def test_delete_of_a_hidden_deletion(server: Server) -> None:
    await delete_cp2(server)
    await pair(server, "DELETE", "CarePlan/{id}")
    await pair(server, "DELETE", "CarePlan/{id}", **{"If-Match": 'W/"2"'})


async def test_patch(server: Server) -> None:
    await pair(server, "PATCH", "CarePlan/{id}", REVOKE, **JSON_PATCH)
    await pair(server, "PATCH", "CarePlan/{id}", REVOKE, **JSON_PATCH, **{"If-Match": 'W/"1"'})
    await untouched(server)
    await delete_cp2(server)
    await pair(server, "PATCH", "CarePlan/{id}", REVOKE, **JSON_PATCH)  # not 410


async def test_update_at_an_id_the_token_does_not_see(server: Server) -> None:
    """Update-as-create at a client-chosen id is refused (405) for a token that does not see
    every CarePlan, whether or not the id is taken: so it cannot probe ids, nor add a version to
    another patient's history."""
    body = plan("p1", "{id}")
    await pair(server, "PUT", "CarePlan/{id}", body)
    await pair(server, "PUT", "CarePlan/{id}", body, **{"If-Match": 'W/"1"'})
    await pair(server, "PUT", "CarePlan/{id}", body, **{"If-None-Match": "*"})
    resp = await server.send("PUT", f"CarePlan/{NEVER}", P1, plan("p1", NEVER))
    assert resp.status_code == 405 and issue(resp)["code"] == "not-supported"
    await untouched(server)


async def test_update_over_a_hidden_deletion_does_not_join_histories(server: Server) -> None:
    await delete_cp2(server)
    await pair(server, "PUT", "CarePlan/{id}", plan("p1", "{id}"))
    history = (await server.get("CarePlan/cp2/_history", ADMIN)).json()
    assert [e["response"]["etag"] for e in history["entry"]] == ['W/"2"', 'W/"1"']
    await pair(server, "PUT", "CarePlan?_id={id}", plan("p1", "{id}"))
    assert (await server.get("CarePlan/cp2", ADMIN)).status_code == 410


async def test_conditional_update_with_a_hidden_id(server: Server) -> None:
    await pair(server, "PUT", "CarePlan?_id={id}", plan("p1", "{id}"))
    await untouched(server)


async def test_own_resources_are_still_written(server: Server) -> None:
    resp = await server.send("PUT", "CarePlan/cp1", P1, plan("p1", "cp1", "completed"))
    assert resp.status_code == 200, resp.text
    resp = await server.send("PUT", "CarePlan?_id=nothing", P1, plan("p1"))
    assert resp.status_code == 201, resp.text  # no match, no id: a create with the server's id
    patched = await server.send("PATCH", "CarePlan/cp1", P1, REVOKE, **JSON_PATCH)
    assert patched.status_code == 200 and patched.json()["status"] == "revoked"
    assert (await server.send("DELETE", "CarePlan/cp1", P1)).status_code == 204
    gone = await server.send("PATCH", "CarePlan/cp1", P1, REVOKE, **JSON_PATCH)
    assert gone.status_code == 410  # its own deletion is no secret


def _bundle(kind: str, method: str, url: str, resource: Any = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"request": {"method": method, "url": url}}
    if resource is not None:
        entry["resource"] = resource
    return {"resourceType": "Bundle", "type": kind, "entry": [entry]}


async def test_transaction_and_batch_entries(server: Server) -> None:
    for kind in ("transaction", "batch"):
        for method, url, body in (
            ("POST", "CarePlan/{id}", plan("p1")),
            ("PUT", "CarePlan/{id}", plan("p1", "{id}")),
            ("PATCH", "CarePlan/{id}", None),
            ("DELETE", "CarePlan/{id}", None),
        ):
            if method == "PATCH":
                binary = "W3sib3AiOiJyZXBsYWNlIiwicGF0aCI6Ii9zdGF0dXMiLCJ2YWx1ZSI6InJldm9rZWQifV0="
                body = {"resourceType": "Binary", "contentType": "application/json-patch+json"}
                body["data"] = binary
            hidden_body = {**body, "id": "cp2"} if body and body.get("id") else body
            never_body = {**body, "id": NEVER} if body and body.get("id") else body
            hidden = await server.send(
                "POST", "", P1, _bundle(kind, method, url.format(id="cp2"), hidden_body)
            )
            never = await server.send(
                "POST", "", P1, _bundle(kind, method, url.format(id=NEVER), never_body)
            )
            same(hidden, never)
            assert hidden.status_code < 500, (kind, method, hidden.text)
    await untouched(server)


async def _walk(server: Server, url: str) -> list[list[tuple[str, str]]]:
    """Every page of a history, following its next links: (fullUrl, ETag) per entry."""
    pages = []
    while url:
        resp = await server.get(url, P1)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        pages.append([(e["fullUrl"], e["response"]["etag"]) for e in body.get("entry", [])])
        following = [x["url"] for x in body["link"] if x["relation"] == "next"]
        url = following[0].removeprefix("http://testserver/fhir/") if following else ""
    return pages


async def test_history_pages_do_not_count_hidden_versions(server: Server) -> None:
    urls = ("CarePlan/_history?_count=1", "_history?_count=2", "CarePlan/_history?_count=5")
    before = {url: await _walk(server, url) for url in urls}
    for status in ("completed", "revoked", "active"):  # hidden versions, between visible ones
        resp = await server.send("PUT", "CarePlan/cp2", ADMIN, plan("p2", "cp2", status))
        assert resp.status_code == 200
    assert (await server.send("POST", "CarePlan", ADMIN, plan("p2"))).status_code == 201
    for url in urls:
        pages = await _walk(server, url)
        assert pages == before[url], url
        size = int(url.rsplit("=", 1)[1])
        assert all(len(page) == size for page in pages[:-1]), pages
        assert 1 <= len(pages[-1]) <= size, pages  # no empty last page either
    assert [len(p) for p in before[urls[0]]] == [1, 1]  # cp3 and cp1


async def test_instance_history_and_vread_of_hidden_versions(server: Server) -> None:
    """A plan of p2's later moved to p1: p1 sees the version in its compartment only."""
    assert (await server.send("PUT", "CarePlan/moved", ADMIN, plan("p2", "moved"))).is_success
    assert (await server.send("PUT", "CarePlan/moved", ADMIN, plan("p1", "moved"))).is_success
    pages = await _walk(server, "CarePlan/moved/_history?_count=1")
    assert pages == [[("http://testserver/fhir/CarePlan/moved", 'W/"2"')]]
    hidden = await server.get("CarePlan/moved/_history/1", P1)
    never = await server.get("CarePlan/moved/_history/9", P1)
    same(hidden, never, "_history/1", "_history/9")
    assert hidden.status_code == 404
    for url in ("CarePlan/{id}/_history", "CarePlan/{id}/_history/1", "CarePlan/{id}"):
        same(await server.get(url.format(id="cp2"), P1), await server.get(url.format(id=NEVER), P1))


async def test_conditional_matches_the_token_may_not_see_are_no_matches(server: Server) -> None:
    """Even when the search index wrongly puts p2's plan in p1's compartment (a custom parameter
    whose key collides with CarePlan.patient's), the match is checked against the resource
    itself, as a write by id is: it is no match, and nothing of p2's is changed."""
    param = {
        "resourceType": "SearchParameter",
        "url": "http://example.org/fhir/SearchParameter/collide",
        "name": "Collide",
        "status": "active",
        "description": "Shares CarePlan.patient's index key",
        "code": "ze1c84c5",
        "base": ["CarePlan"],
        "type": "reference",
        "expression": "'Patient/p1'",
    }
    made = await server.send("POST", "SearchParameter", ADMIN, param)
    assert made.status_code in (201, 400, 403, 422), made.text  # refused once keys cannot collide
    await server.app.services.custom.reindexed()
    gone = await server.send("DELETE", "CarePlan?_id=cp2", P1)
    assert gone.status_code == 204
    updated = await server.send("PUT", "CarePlan?_id=cp2", P1, plan("p1"))
    assert updated.status_code == 201 and updated.json()["id"] != "cp2"
    patched = await server.send("PATCH", "CarePlan?_id=cp2", P1, REVOKE, **JSON_PATCH)
    assert patched.status_code == 404
    made = await server.send("POST", "CarePlan", P1, plan("p1"), **{"If-None-Exist": "_id=cp2"})
    assert made.status_code == 201 and made.json()["id"] != "cp2"
    await untouched(server)


async def test_a_match_the_token_sees_but_may_not_change_is_forbidden(server: Server) -> None:
    """It may read every plan of p1's but change only completed ones: cp1 (active) matches,
    so the conditional write is refused — not answered as if nothing matched."""
    token = mint(
        "launch/patient patient/CarePlan.rs patient/CarePlan.ud?status=completed", patient="p1"
    )
    for method, body, headers in (
        ("DELETE", None, {}),
        ("PUT", plan("p1"), {}),
        ("PATCH", REVOKE, JSON_PATCH),
    ):
        resp = await server.send(method, "CarePlan?_id=cp1", token, body, **headers)
        assert resp.status_code == 403, (method, resp.text)
        assert issue(resp)["code"] == "forbidden"
    resp = await server.get("CarePlan/cp1", ADMIN)
    assert resp.status_code == 200 and resp.json()["meta"]["versionId"] == "1"
    hidden = await server.send("DELETE", "CarePlan?_id=cp2", token)
    never = await server.send("DELETE", f"CarePlan?_id={NEVER}", token)
    same(hidden, never)
    await untouched(server)


async def test_a_conditional_delete_needs_delete_permission_on_each_match(server: Server) -> None:
    """A clinician may read every plan (``user/CarePlan.rs``) but delete only the launch
    patient's (``patient/CarePlan.d``): p2's plan matches, is seen, and must not be deleted —
    neither by a conditional DELETE nor by one in a transaction; p1's is."""
    token = mint("user/CarePlan.rs patient/CarePlan.d", fhirUser="Practitioner/doc", patient="p1")
    assert (await server.get("CarePlan/cp2", token)).status_code == 200  # it sees p2's plan
    for criteria in ("_id=cp2", "subject=Patient/p2"):
        resp = await server.send("DELETE", f"CarePlan?{criteria}", token)
        assert resp.status_code == 403, (criteria, resp.text)
        assert issue(resp)["code"] == "forbidden"
    entry = {"request": {"method": "DELETE", "url": "CarePlan?_id=cp2"}}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    resp = await server.send("POST", "", token, bundle)
    assert resp.status_code == 403, resp.text
    await untouched(server)
    assert (await server.send("DELETE", "CarePlan?_id=cp1", token)).status_code == 204
    assert (await server.get("CarePlan/cp1", ADMIN)).status_code == 410


async def test_transaction_creates_with_the_servers_ids_still_work(server: Server) -> None:
    """The ids a transaction assigns (a create, a conditional update that matches nothing) are
    the server's, not the client's: a patient token may use them."""
    entries = [
        {
            "fullUrl": "urn:uuid:0b7e5ac6-1e43-4c2e-9a4b-9c6a3f0b1d01",
            "resource": plan("p1"),
            "request": {"method": "POST", "url": "CarePlan"},
        },
        {
            "fullUrl": "urn:uuid:0b7e5ac6-1e43-4c2e-9a4b-9c6a3f0b1d02",
            "resource": plan("p1"),
            "request": {"method": "PUT", "url": "CarePlan?_id=no-such-plan"},
        },
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    resp = await server.send("POST", "", P1, bundle)
    assert resp.status_code == 200, resp.text
    statuses = [e["response"]["status"] for e in resp.json()["entry"]]
    assert statuses == ["201 Created", "201 Created"]
