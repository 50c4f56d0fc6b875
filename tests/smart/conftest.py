"""The SMART suite runs the embedded authorization server (``FHIR_AUTH=smart``) through its real
HTTP endpoints (httpx against the ASGI app) on every store: SQLite on a real file, and MongoDB on
the in-process stand-in. Each test gets a fresh server with a few FHIR resources, registered
clients of every kind and three test users:

===========  ===================  ====================================================
user         fhirUser             role
===========  ===================  ====================================================
``doctor``   Practitioner/doc1    clinician (patient picker in a standalone launch)
``citizen``  Patient/p1           citizen (gets their own patient)
``mother``   RelatedPerson/r1     relative of Patient/p2
===========  ===================  ====================================================
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import auth.keys
import auth.users
from auth.clients import Registration
from auth.smart.server import SmartServer
from fhir_server.app import ServerApp
from fhir_server.config import Settings
from fhir_server.store.base import Store
from tests.smart.support import (
    BACKEND_BASIC_SECRET,
    BASE,
    EHR_SECRET,
    PASSWORD,
    REDIRECT,
    RS_SECRET,
    SECRET,
    Browser,
    Keys,
)
from tests.support.backends import BACKENDS, app_store

RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "p1", "name": [{"family": "Jensen", "given": ["Anna"]}],
     "birthDate": "1980-02-03", "generalPractitioner": [{"reference": "Organization/clinic"}]},
    {"resourceType": "Patient", "id": "p2", "name": [{"family": "Nielsen", "given": ["Bo"]}],
     "birthDate": "1975-06-07", "generalPractitioner": [{"reference": "Organization/clinic"}]},
    # the doctor is a GP (a health professional) of the clinic both patients are listed with:
    # the care relationship that lets her pick them (sundhedsloven §42a)
    {"resourceType": "Organization", "id": "clinic", "name": "Lægehuset",
     "identifier": [{"system": "urn:oid:1.2.208.176.1.4", "value": "012345"}]},
    {"resourceType": "PractitionerRole", "id": "doc1-gp", "active": True,
     "practitioner": {"reference": "Practitioner/doc1"},
     "organization": {"reference": "Organization/clinic"}},
    {"resourceType": "Encounter", "id": "e1", "status": "in-progress",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
     "subject": {"reference": "Patient/p1"}},
    {"resourceType": "Encounter", "id": "e2", "status": "in-progress",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
     "subject": {"reference": "Patient/p2"}},
    {"resourceType": "Practitioner", "id": "doc1",
     "name": [{"family": "Læge", "given": ["Dorthe"]}]},
    {"resourceType": "RelatedPerson", "id": "r1", "patient": {"reference": "Patient/p2"}},
]  # fmt: skip


@dataclass
class Smart:
    """One running server and what the tests need to talk to it."""

    app: ServerApp
    client: httpx.AsyncClient
    asym: Keys
    backend_rs: Keys

    @property
    def server(self) -> SmartServer:
        assert self.app.smart is not None
        return self.app.smart

    @property
    def browser(self) -> Browser:
        return Browser(self.client)

    async def jwks(self) -> dict[str, Any]:
        resp = await self.client.get(".well-known/jwks.json")
        assert resp.status_code == 200
        data: dict[str, Any] = resp.json()
        return data

    async def token(self, data: dict[str, str], **headers: str) -> httpx.Response:
        return await self.client.post("auth/token", data=data, headers=headers)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at production cost takes ~0.1 s a hash; the suite hashes hundreds."""
    monkeypatch.setattr(auth.users, "SCRYPT_COST", 2**10)


_SERVER_KEYS = [auth.keys._new_key() for _ in range(3)]
_CLIENT_KEYS = (Keys.rsa("RS384"), Keys.rsa("RS384"))


@pytest.fixture(autouse=True)
def _premade_signing_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2048-bit RSA key takes ~0.1 s to make; every test's fresh database takes keys from a
    few made once (still a different one on each rotation)."""
    turn = itertools.cycle(_SERVER_KEYS)
    monkeypatch.setattr(auth.keys, "_new_key", lambda: {**next(turn), "created": time.time()})


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def seed(store: Store) -> None:
    async with store.transaction() as uow:
        for resource in RESOURCES:
            await uow.write(resource["resourceType"], resource["id"], dict(resource), method="PUT")


async def register(server: SmartServer, asym: Keys, backend_rs: Keys) -> None:
    app = {"redirect_uris": [REDIRECT], "launch_uri": "http://localhost:9000/launch"}
    for reg in (
        Registration("public-app", "public", "Public App", **app),
        Registration("conf-app", "confidential-symmetric", "Confidential App", secret=SECRET,
                     **app),
        Registration("asym-app", "confidential-asymmetric", "Asymmetric App", jwks=asym.jwks,
                     **app),
        Registration("no-offline", "public", scope="openid fhirUser launch/patient patient/*.rs",
                     **app),
        Registration("ehr", "confidential-symmetric", "EHR", backend=True, scope="system/*.rs",
                     may_launch=True, secret=EHR_SECRET),
        Registration("rs", "confidential-symmetric", "Resource server", backend=True,
                     scope="system/*.rs", may_introspect=True, secret=RS_SECRET),
        Registration("backend-rs", "confidential-asymmetric", backend=True,
                     scope="system/*.rs system/Observation.cruds", jwks=backend_rs.jwks),
        Registration("backend-basic", "confidential-symmetric", backend=True,
                     scope="system/Patient.rs", secret=BACKEND_BASIC_SECRET),
    ):  # fmt: skip
        await server.clients.add(reg)
    await server.users.add("doctor", "Practitioner/doc1", PASSWORD, "Dorthe Læge")
    await server.users.add("citizen", "Patient/p1", PASSWORD, "Anna Jensen")
    await server.users.add("mother", "RelatedPerson/r1", PASSWORD, "Mor Nielsen")


async def make_smart(backend: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Smart]:
    db = tmp_path / f"fhir-{uuid.uuid4().hex[:8]}.db"
    settings = Settings(
        store_url=f"sqlite:///{db}",
        auth="smart",
        install_conformance=False,
        required_profiles={},
        validate_profiles=False,
        **overrides,
    )
    app = ServerApp(settings, store=app_store(backend))
    await app.startup()
    try:
        await seed(app.store)
        asym, backend_rs = _CLIENT_KEYS
        assert app.smart is not None
        await register(app.smart, asym, backend_rs)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield Smart(app, client, asym, backend_rs)
    finally:
        await app.shutdown()


@pytest.fixture
async def smart(backend: str, tmp_path: Path) -> AsyncIterator[Smart]:
    async for running in make_smart(backend, tmp_path):
        yield running
