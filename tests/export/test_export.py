"""Bulk Data ``$export`` end to end over HTTP with real backend-services tokens, on both stores:
kick-off, polling, manifest, download; ``_type``, ``_since``, ``_typeFilter``; a Group's
members only; the requester's access (care relationship, consent) applied; another client
refused; cancel; the CapabilityStatement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from auth.clients import Registration
from fhir_server.export import runner
from fhir_server.export.jobs import Job
from tests.consent.world import actor, consent, period, ref
from tests.export.support import (
    ASYNC,
    backend_token,
    bearer,
    download,
    exported,
    kick_off,
    manifest,
    relative,
    secret_token,
)
from tests.smart.conftest import Smart, make_smart
from tests.smart.support import BACKEND_BASIC_SECRET, EHR_SECRET, RS_SECRET
from tests.support.backends import BACKENDS

OBS = "http://loinc.org"
MORE: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "p3", "name": [{"family": "Holm"}]},
    {"resourceType": "Observation", "id": "o1", "status": "final",
     "code": {"coding": [{"system": OBS, "code": "8867-4"}]},
     "subject": {"reference": "Patient/p1"}},
    {"resourceType": "Observation", "id": "o2", "status": "final",
     "code": {"coding": [{"system": OBS, "code": "8310-5"}]},
     "subject": {"reference": "Patient/p2"}},
    {"resourceType": "Observation", "id": "o3", "status": "final",
     "code": {"coding": [{"system": OBS, "code": "8867-4"}]},
     "subject": {"reference": "Patient/p3"}},
    # a municipality's home-nursing caseload: p1 now, p2 no longer
    {"resourceType": "Group", "id": "caseload", "type": "person", "actual": True,
     "name": "Hjemmesygepleje, distrikt nord",
     "member": [{"entity": {"reference": "Patient/p1"}},
                {"entity": {"reference": "Patient/p2"}, "inactive": True}]},
]  # fmt: skip


async def _running(backend: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Smart]:
    async for running in make_smart(backend, tmp_path, **overrides):
        async with running.app.store.transaction() as uow:
            for resource in MORE:
                await uow.write(resource["resourceType"], resource["id"], resource, method="PUT")
        yield running


@pytest.fixture(params=BACKENDS)
async def smart(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Smart]:
    async for running in _running(str(request.param), tmp_path):
        yield running


@pytest.fixture(params=BACKENDS)
async def hasty(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Smart]:
    """A server whose export worker looks for jobs to take over or expire every 0.1 s."""
    overrides = {"export_lease_seconds": 0.2}
    async for running in _running(str(request.param), tmp_path, **overrides):
        yield running


async def test_system_export_end_to_end(smart: Smart) -> None:
    token = await backend_token(smart)
    body, ids = await exported(smart.client, token, "$export?_type=Patient,Observation,Group")
    assert body["requiresAccessToken"] is True and body["error"] == []
    assert body["request"].endswith("/$export?_type=Patient%2CObservation%2CGroup")
    assert body["transactionTime"][:2] == "20"
    assert ids == {
        "Patient": {"p1", "p2", "p3"},
        "Observation": {"o1", "o2", "o3"},
        "Group": {"caseload"},
    }
    assert {o["type"]: o["count"] for o in body["output"]} == {
        "Group": 1,
        "Observation": 3,
        "Patient": 3,
    }


async def test_every_type_the_client_may_search_without_type(smart: Smart) -> None:
    token = await backend_token(smart)
    body, ids = await exported(smart.client, token, "$export")
    assert ids["Encounter"] == {"e1", "e2"} and ids["Organization"] == {"clinic"}
    assert "Consent" not in ids  # no resource of a type: no file for it
    assert all(o["count"] > 0 for o in body["output"])


async def test_patient_export_holds_the_patients_data(smart: Smart) -> None:
    token = await backend_token(smart)
    _, ids = await exported(smart.client, token, "Patient/$export?_outputFormat=ndjson")
    assert set(ids) == {"Patient", "Observation", "Encounter", "RelatedPerson", "Group"}
    assert ids["Encounter"] == {"e1", "e2"} and ids["Group"] == {"caseload"}
    assert "Organization" not in ids  # in no patient's compartment


async def test_group_export_holds_only_its_active_members(smart: Smart) -> None:
    token = await backend_token(smart)
    _, ids = await exported(
        smart.client, token, "Group/caseload/$export?_outputFormat=application/fhir%2Bndjson"
    )
    assert ids == {
        "Patient": {"p1"},
        "Observation": {"o1"},
        "Encounter": {"e1"},
        "Group": {"caseload"},
    }


async def test_an_unknown_group_is_404(smart: Smart) -> None:
    token = await backend_token(smart)
    resp = await smart.client.get("Group/nope/$export", headers=bearer(token, **ASYNC))
    assert resp.status_code == 404


async def test_type_filter_and_since(smart: Smart) -> None:
    token = await backend_token(smart)
    filters = "Observation?code=8867-4,Observation?subject=Patient/p2"
    _, ids = await exported(smart.client, token, f"$export?_type=Observation&_typeFilter={filters}")
    assert ids == {"Observation": {"o1", "o2", "o3"}}
    _, ids = await exported(
        smart.client, token, "$export?_type=Observation&_typeFilter=Observation?code=8310-5"
    )
    assert ids == {"Observation": {"o2"}}

    first = await manifest(smart.client, token, await kick_off(smart.client, token, "$export"))
    since = first["transactionTime"]
    changed = {"resourceType": "Patient", "id": "p3", "name": [{"family": "Holm-Berg"}]}
    async with smart.app.store.transaction() as uow:
        await uow.write("Patient", "p3", changed, method="PUT")
    query = f"_type=Patient,Observation&_since={since.replace('+', '%2B')}"
    body, ids = await exported(smart.client, token, f"$export?{query}")
    assert ids == {"Patient": {"p3"}}
    assert body["transactionTime"] > since


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ("_outputFormat=text/csv", "_outputFormat"),
        ("_type=Nonsense", "_type"),
        ("_since=yesterday", "_since"),
        ("_since=2024-01-01", "_since"),
        ("_typeFilter=Observation?_sort=date", "_typeFilter"),
        ("_typeFilter=Observation?nonsense=1", "_typeFilter"),
        ("_typeFilter=code=1", "_typeFilter"),
        ("_type=Patient&_typeFilter=Observation?code=1", "_typeFilter"),
        ("_elements=id", "_elements"),
        ("_wat=1", "_wat"),
    ],
)
async def test_bad_kick_off_names_the_parameter(smart: Smart, query: str, expression: str) -> None:
    token = await backend_token(smart)
    resp = await smart.client.get(f"$export?{query}", headers=bearer(token, **ASYNC))
    assert resp.status_code == 400, resp.text
    assert resp.json()["issue"][0]["expression"] == [expression]


async def test_kick_off_needs_respond_async_and_a_token(smart: Smart) -> None:
    token = await backend_token(smart)
    resp = await smart.client.get("$export", headers=bearer(token))
    assert resp.status_code == 400 and resp.json()["issue"][0]["expression"] == ["Prefer"]
    assert (await smart.client.get("$export", headers=ASYNC)).status_code == 401
    resp = await smart.client.get("Patient/p1/$export", headers=bearer(token, **ASYNC))
    assert resp.status_code == 400 and resp.json()["issue"][0]["code"] == "not-supported"


async def test_a_type_the_client_may_not_search_is_refused(smart: Smart) -> None:
    token = await secret_token(smart, "backend-basic", BACKEND_BASIC_SECRET, "system/Patient.rs")
    resp = await smart.client.get("$export?_type=Observation", headers=bearer(token, **ASYNC))
    assert resp.status_code == 403
    _, ids = await exported(smart.client, token, "$export")
    assert ids == {"Patient": {"p1", "p2", "p3"}}


async def test_only_the_requester_polls_downloads_and_cancels(smart: Smart) -> None:
    token = await backend_token(smart)
    status = await kick_off(smart.client, token, "$export?_type=Patient")
    body = await manifest(smart.client, token, status)
    file_url = relative(body["output"][0]["url"])
    other = await secret_token(smart, "ehr", EHR_SECRET, "system/*.rs")
    for url in (status, file_url):
        assert (await smart.client.get(url, headers=bearer(other))).status_code == 404
        assert (await smart.client.get(url)).status_code == 401
    assert (await smart.client.delete(status, headers=bearer(other))).status_code == 404
    missing = file_url.replace("Patient.ndjson", "Observation.ndjson")
    assert (await smart.client.get(missing, headers=bearer(token))).status_code == 404
    assert len(await download(smart.client, token, body["output"][0]["url"])) == 3


async def test_cancel_removes_the_job_and_its_files(smart: Smart) -> None:
    token = await backend_token(smart)
    status = await kick_off(smart.client, token, "$export?_type=Patient,Observation")
    body = await manifest(smart.client, token, status)
    folder = smart.app.exporter.directory
    assert any(folder.rglob("*.ndjson"))
    resp = await smart.client.delete(status, headers=bearer(token))
    assert resp.status_code == 202, resp.text
    assert (await smart.client.get(status, headers=bearer(token))).status_code == 404
    url = relative(body["output"][0]["url"])
    assert (await smart.client.get(url, headers=bearer(token))).status_code == 404
    assert not any(folder.rglob("*.ndjson"))
    assert (await smart.client.delete(status, headers=bearer(token))).status_code == 404


async def test_cancel_while_running(smart: Smart) -> None:
    token = await backend_token(smart)
    smart.app.settings.export_page_size = 1  # a page per resource: the job is still running
    status = await kick_off(smart.client, token, "$export")
    resp = await smart.client.delete(status, headers=bearer(token))
    assert resp.status_code == 202
    await asyncio.sleep(0.05)
    assert (await smart.client.get(status, headers=bearer(token))).status_code == 404
    assert not any(smart.app.exporter.directory.rglob("*.ndjson"))


async def test_the_export_holds_what_the_organization_may_see(smart: Smart) -> None:
    """A GP clinic's backend: only its listed patients (p1, p2: not p3), and not what a
    patient's consent blocks from it (p2's block of the clinic)."""
    await smart.server.clients.add(
        Registration("clinic-svc", "confidential-symmetric", backend=True, scope="system/*.rs",
                     secret=RS_SECRET, organization="Organization/clinic")
    )  # fmt: skip
    token = await secret_token(smart, "clinic-svc", RS_SECRET, "system/*.rs")
    _, ids = await exported(smart.client, token, "$export?_type=Patient,Observation")
    assert ids == {"Patient": {"p1", "p2"}, "Observation": {"o1", "o2"}}
    block = consent(
        "block-p2",
        "p2",
        "block",
        {
            "type": "deny",
            "period": period("2020-01-01"),
            "actor": [actor(ref("Organization/clinic"))],
        },
    )
    async with smart.app.store.transaction() as uow:
        await uow.write("Consent", "block-p2", block, method="PUT")
    _, ids = await exported(smart.client, token, "$export?_type=Patient,Observation")
    assert "o2" not in ids.get("Observation", set())
    assert ids["Observation"] == {"o1"}


async def test_capability_statement_declares_the_export(smart: Smart) -> None:
    statement = (await smart.client.get("metadata")).json()
    assert (
        "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" in statement["instantiates"]
    )
    rest = statement["rest"][0]
    bulk = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"
    assert {"name": "export", "definition": bulk + "export"} in rest["operation"]
    by_type = {r["type"]: r for r in rest["resource"]}
    assert {"name": "export", "definition": bulk + "patient-export"} in by_type["Patient"][
        "operation"
    ]
    assert {"name": "export", "definition": bulk + "group-export"} in by_type["Group"]["operation"]
    names = {o["name"] for r in rest["resource"] for o in r.get("operation", [])}
    assert "export-poll-status" not in names | {o["name"] for o in rest["operation"]}


async def test_group_is_served_and_searchable(smart: Smart) -> None:
    token = await backend_token(smart)
    found = await smart.client.get("Group?member=Patient/p1", headers=bearer(token))
    assert found.status_code == 200, found.text
    assert [e["resource"]["id"] for e in found.json()["entry"]] == ["caseload"]
    found = await smart.client.get("Group?type=person&actual=true", headers=bearer(token))
    assert [e["resource"]["id"] for e in found.json()["entry"]] == ["caseload"]


async def test_a_stopped_job_is_taken_over_with_its_requesters_grant(
    hasty: Smart, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's task stops right after saving its first page (as in a crash: nothing more is
    saved, and a half page was written after the save); once its lease runs out the worker takes
    it over, makes the requester's grant again from the kept claims, cuts the file back to the
    saved length and goes on: each resource once."""
    smart = hasty
    smart.app.settings.export_page_size = 1
    monkeypatch.setattr(runner, "SAVE_SECONDS", 0.0)  # a save after every page
    original = runner.Exporter._save
    stopped: list[str] = []

    async def crash_after_first_page(self: runner.Exporter, job: Job) -> None:
        await original(self, job)
        if job.progress.cursor is not None and not stopped:
            stopped.append(job.id)
            with (self.directory / job.id / "Patient.ndjson").open("ab") as half_written:
                half_written.write(b'{"half": ')
            raise asyncio.CancelledError

    monkeypatch.setattr(runner.Exporter, "_save", crash_after_first_page)
    token = await backend_token(smart)
    status = await kick_off(smart.client, token, "$export?_type=Patient,Observation")
    body = await manifest(smart.client, token, status)
    assert stopped == [status.rsplit("=", 1)[1]]
    counts = {o["type"]: o["count"] for o in body["output"]}
    assert counts == {"Patient": 3, "Observation": 3}
    for output in body["output"]:
        lines = await download(smart.client, token, output["url"])
        assert sorted(r["id"] for r in lines) == sorted({r["id"] for r in lines})


async def test_kick_off_by_post_with_parameters(smart: Smart) -> None:
    token = await backend_token(smart)
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "_type", "valueString": "Observation"},
            {"name": "_typeFilter", "valueString": "Observation?code=8310-5"},
            {"name": "_outputFormat", "valueString": "application/fhir+ndjson"},
        ],
    }
    resp = await smart.client.post("$export", json=parameters, headers=bearer(token, **ASYNC))
    assert resp.status_code == 202, resp.text
    body = await manifest(smart.client, token, relative(resp.headers["content-location"]))
    assert [(o["type"], o["count"]) for o in body["output"]] == [("Observation", 1)]
    assert [r["id"] for r in await download(smart.client, token, body["output"][0]["url"])] == [
        "o2"
    ]


async def test_a_finished_export_expires(hasty: Smart) -> None:
    smart = hasty
    smart.app.settings.export_expire_seconds = 1
    token = await backend_token(smart)
    status = await kick_off(smart.client, token, "$export?_type=Patient")
    body = await manifest(smart.client, token, status)
    url = relative(body["output"][0]["url"])
    for _ in range(300):
        if (await smart.client.get(status, headers=bearer(token))).status_code == 404:
            break
        await asyncio.sleep(0.02)
    assert (await smart.client.get(status, headers=bearer(token))).status_code == 404
    assert (await smart.client.get(url, headers=bearer(token))).status_code == 404
    assert not any(smart.app.exporter.directory.rglob("*.ndjson"))


async def test_group_members_looked_up_in_chunks_export_each_resource_once(
    smart: Smart, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resource in two members' compartments (subject one, performer the other) is found by
    both chunks of members and written once."""
    monkeypatch.setattr(runner, "MEMBERS_PER_QUERY", 1)
    both = {"resourceType": "Group", "id": "both", "type": "person", "actual": True,
            "member": [{"entity": {"reference": "Patient/p1"}},
                       {"entity": {"reference": "Patient/p2"}}]}  # fmt: skip
    shared = {"resourceType": "Observation", "id": "o4", "status": "final",
              "code": {"coding": [{"system": OBS, "code": "8867-4"}]},
              "subject": {"reference": "Patient/p1"},
              "performer": [{"reference": "Patient/p2"}]}  # fmt: skip
    async with smart.app.store.transaction() as uow:
        for resource in (both, shared):
            await uow.write(resource["resourceType"], resource["id"], resource, method="PUT")
    token = await backend_token(smart)
    _, ids = await exported(smart.client, token, "Group/both/$export?_type=Patient,Observation")
    assert ids == {"Patient": {"p1", "p2"}, "Observation": {"o1", "o2", "o4"}}


async def test_a_job_stopped_by_a_shutdown_goes_on_at_the_next_start(
    smart: Smart, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shutting the worker down mid-export gives up the job's lease: the next start takes it
    over at once (not after `FHIR_EXPORT_LEASE_SECONDS`, 30 s here) and finishes it."""
    smart.app.settings.export_page_size = 1
    monkeypatch.setattr(runner, "SAVE_SECONDS", 0.0)
    original = runner.Exporter._save
    stalled = asyncio.Event()

    async def stall_after_first_page(self: runner.Exporter, job: Job) -> None:
        await original(self, job)
        if job.progress.cursor is not None:
            stalled.set()
            await asyncio.Event().wait()  # until the shutdown cancels it

    monkeypatch.setattr(runner.Exporter, "_save", stall_after_first_page)
    token = await backend_token(smart)
    status = await kick_off(smart.client, token, "$export?_type=Patient,Observation")
    await asyncio.wait_for(stalled.wait(), 30)
    exporter = smart.app.exporter
    await exporter.close()
    monkeypatch.setattr(runner.Exporter, "_save", original)
    await exporter.open()
    body = await asyncio.wait_for(manifest(smart.client, token, status), 10)  # not 30 s
    assert {o["type"]: o["count"] for o in body["output"]} == {"Patient": 3, "Observation": 3}
