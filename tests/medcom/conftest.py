"""The MedCom suite: `POST /fhir/$process-message` over real HTTP (ASGI) with SMART on, on every
store, with MedCom's published example messages (tests/support/medcom_examples.py says where)
and the Patients and Organizations they name (``prerequisites.json``).

The receiving organizations here are the messages' receivers (a municipality's care centre, a
home nursing unit, a GP, …); the sender calls as a backend service registered with its
organization (`SENDER_SCOPES`). The HospitalNotification citizen (CPR 2509479989) is served by
Plejecenter Herlev through a CareTeam it manages."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from tests.api.conftest import backend, make_client
from tests.api.support import BASE
from tests.auth.conftest import ADMIN, SOR, Revocations, TestKeys, bearer, mint
from tests.support import medcom_examples
from tests.support.backends import BACKENDS, app_store

__all__ = ["backend", "make_client"]
"""tests/api's fixtures, for the outbound tests (tests/medcom/record.py's record, auth off)."""

SENDER_SCOPES = (
    "system/Bundle.c system/Communication.c system/Encounter.cru system/Task.c system/Patient.ru"
)
"""What a MedCom partner's backend service is granted (docs/medcom.md)."""

HERLEV = "o4cdf292-abf3-4f5f-80ea-60a48013ff6d"
"""Plejecenter Herlev: the HospitalNotification examples' receiver."""
HN_PATIENT = "c4909be8-2684-4dc7-87ec-3e91eb8c0ac6"
"""The stored Patient of CPR 2509479989 (the HospitalNotification examples' citizen)."""
HOSPITAL = "e6dd7d8c-5744-440a-8347-d932a8f65a6b"
"""Hjerteafdelingen, Herlev og Gentofte hospital (SOR 265161000016000): the HN sender."""
UNSERVED_PATIENT = "6e8d6238-37de-4471-a210-63c121690cde"
"""CPR 2103009996: a citizen no receiving organization here has a care relationship with."""


def care_teams() -> list[dict[str, Any]]:
    """Every other citizen's active CareTeam: managed by Plejecenter Herlev, every example
    organization a member (so each sender has the care relationship its writes need)."""
    data = example("prerequisites.json")
    members = [{"member": {"reference": f"Organization/{o['id']}"}} for o in data["Organization"]]
    return [
        {
            "resourceType": "CareTeam",
            "id": f"team-{n}",
            "status": "active",
            "subject": {"reference": f"Patient/{p['id']}"},
            "participant": members,
            "managingOrganization": [{"reference": f"Organization/{HERLEV}"}],
        }
        for n, p in enumerate(data["Patient"])
        if p["id"] != UNSERVED_PATIENT
    ]


def sender_token(bundle: Any) -> dict[str, str]:
    organization = f"Organization/{HOSPITAL}"
    if isinstance(bundle, dict) and bundle.get("resourceType") == "Parameters":
        bundle = next((p.get("resource") for p in bundle.get("parameter", [])), bundle)
    try:
        header = next(
            e["resource"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "MessageHeader"
        )
        ref = header["sender"]["reference"]
        sender = next(e["resource"] for e in bundle["entry"] if e.get("fullUrl", "").endswith(ref))
        sor = next(i["value"] for i in sender["identifier"] if i["system"] == SOR)
        organization = f"{SOR}|{sor}"
    except (KeyError, StopIteration, TypeError, IndexError):
        pass
    return bearer(mint(SENDER_SCOPES, organization_id=organization))


def example(name: str) -> dict[str, Any]:
    text = medcom_examples.path(name).read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


REGION = {
    "resourceType": "Organization",
    "id": "region-h",
    "identifier": [{"system": "urn:iso:std:iso:3166:-2", "value": "DK-84"}],
}
"""The examples' organizations are placed under a region, so that their backends act in a
health sector (docs/authorization.md, "sector") as MedCom partners do."""


def prerequisites() -> list[dict[str, Any]]:
    data = example("prerequisites.json")
    out = [REGION]
    for resource in data["Patient"] + data["Organization"]:
        resource = {k: v for k, v in resource.items() if k != "_from"}
        if resource["resourceType"] == "Organization":
            resource["partOf"] = {"reference": "Organization/region-h"}
        out.append(resource)
    return out


class Medcom:
    """A client of one server: ``send(bundle)`` posts a message as the sending system."""

    def __init__(self, client: httpx.AsyncClient, app: ServerApp) -> None:
        self.client = client
        self.app = app
        self.admin = bearer(mint(ADMIN))

    async def send(self, bundle: Any, **headers: str) -> httpx.Response:
        """Post ``bundle`` as the backend service of the organization that sends it (by the
        SOR id of its MessageHeader.sender; the hospital when it names none)."""
        return await self.client.post(
            "$process-message", json=bundle, headers={**sender_token(bundle), **headers}
        )

    async def search(self, query: str) -> list[dict[str, Any]]:
        resp = await self.client.get(query, headers=self.admin)
        assert resp.status_code == 200, resp.text
        return [
            e["resource"] for e in resp.json().get("entry", []) if e["search"]["mode"] == "match"
        ]

    async def read(self, ref: str) -> dict[str, Any]:
        resp = await self.client.get(ref, headers=self.admin)
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]

    async def counts(self) -> dict[str, int]:
        """How many resources of the types a message may write are stored."""
        out = {}
        for kind in ("Communication", "Encounter", "Task", "Patient"):
            resp = await self.client.get(f"{kind}?_summary=count", headers=self.admin)
            out[kind] = resp.json()["total"]
        return out


@pytest.fixture(params=BACKENDS)
async def medcom(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Medcom]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'fhir.db'}",
        auth="smart",
        required_profiles={},
        install_conformance=False,
    )
    app = ServerApp(
        settings,
        app_store(str(request.param)),
        keys=TestKeys(),
        is_revoked=Revocations().is_revoked,
    )
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            admin = bearer(mint(ADMIN))
            for resource in [*prerequisites(), *care_teams()]:
                url = f"{resource['resourceType']}/{resource['id']}"
                resp = await client.put(url, json=resource, headers=admin)
                assert resp.status_code == 201, (url, resp.text)
            yield Medcom(client, app)
    finally:
        await app.shutdown()


def ack_of(resp: httpx.Response) -> tuple[str, dict[str, Any]]:
    """(response.code, the OperationOutcome or {}) of an Acknowledgement answer."""
    assert resp.status_code == 200, resp.text
    bundle = resp.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "message", bundle
    header = bundle["entry"][0]["resource"]
    assert header["eventCoding"]["code"] == "acknowledgement-message"
    outcome = next(
        (
            e["resource"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "OperationOutcome"
        ),
        {},
    )
    return header["response"]["code"], outcome


def altered(name: str) -> dict[str, Any]:
    """A deep copy of example ``name`` to break."""
    return copy.deepcopy(example(name))
