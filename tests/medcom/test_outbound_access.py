"""The MedCom operations read through the caller's access and send only with a write scope:
real SMART tokens (RS256, tests/auth), real HTTP through the app, both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from tests.api.support import BASE
from tests.auth.conftest import ADMIN, Revocations, TestKeys, bearer, mint
from tests.medcom.record import ASK, SETTINGS, load, parameters
from tests.support.backends import BACKENDS, app_store

READ_ALL = "system/*.rs"


@pytest.fixture(params=BACKENDS)
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'fhir.db'}",
        auth="smart",
        required_profiles={},
        install_conformance=False,
        **SETTINGS,
    )
    revocations = Revocations()
    app = ServerApp(
        settings, app_store(str(request.param)), keys=TestKeys(), is_revoked=revocations.is_revoked
    )
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
            await load(c, bearer(mint(ADMIN)))
            yield c
    finally:
        await app.shutdown()


async def call(client: Any, scope: str, path: str = "CarePlan/plan", **extra: Any) -> Any:
    return await client.post(
        f"{path}/$medcom-carecommunication",
        json=parameters(**ASK, **extra),
        headers=bearer(mint(scope)),
    )


async def test_reading_everything_rendered_builds_the_message(client: Any) -> None:
    assert (await call(client, READ_ALL)).status_code == 200


async def test_what_the_caller_may_not_read_is_not_rendered(client: Any) -> None:
    scope = "system/CarePlan.rs system/Organization.rs system/PractitionerRole.rs"
    response = await call(client, scope + " system/Practitioner.rs")
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["subject"]
    assert "not known" in issue["diagnostics"]
    # a resource it may not read at all is answered as no operation on it would be
    response = await call(client, "system/Patient.rs system/Organization.rs")
    assert response.status_code == 403


async def test_sending_needs_create_on_communication(client: Any) -> None:
    response = await call(client, READ_ALL, send=True)
    assert response.status_code == 403
    tasks = await client.get("Task", headers=bearer(mint(ADMIN)))
    assert len(tasks.json().get("entry", [])) == 0
    response = await call(client, READ_ALL + " system/Communication.c", send=True)
    assert response.status_code == 200, response.text
    tasks = await client.get("Task", headers=bearer(mint(ADMIN)))
    assert len(tasks.json()["entry"]) == 1


async def test_sending_a_clinicians_communication_needs_update_on_it(client: Any) -> None:
    response = await call(
        client, READ_ALL + " system/Communication.c", "Communication/note", send=True
    )
    assert response.status_code == 403
    response = await call(
        client, READ_ALL + " system/Communication.u", "Communication/note", send=True
    )
    assert response.status_code == 200, response.text


async def _as(client: Any, token: str, path: str) -> Any:
    return await client.post(path, json=parameters(**ASK), headers=bearer(token))


@pytest.mark.parametrize(
    ("existing", "missing"),
    [
        ("CarePlan/plan/$medcom-carecommunication", "CarePlan/nope/$medcom-carecommunication"),
        (
            "Encounter/stay/$medcom-hospitalnotification",
            "Encounter/nope/$medcom-hospitalnotification",
        ),
    ],
)
async def test_another_citizens_token_learns_nothing_of_what_exists(
    client: Any, existing: str, missing: str
) -> None:
    """A citizen's token for another patient (and a clinician with no care relationship with
    the citizen) gets the answer a never-existing id gets: same status, same body."""
    others = [
        mint("patient/*.rs patient/*.c", patient="someone-else", fhirUser="Patient/someone-else"),
        mint("user/*.rs user/*.c", fhirUser="Practitioner/stranger"),
    ]
    for token in others:
        seen, unseen = await _as(client, token, existing), await _as(client, token, missing)
        assert seen.status_code == unseen.status_code, (seen.text, unseen.text)
        named = existing.split("/")[1]  # each answer names the id it was asked about
        assert seen.text.replace(f"/{named}", "/nope") == unseen.text
