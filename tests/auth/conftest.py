"""The authorization suites: the real app with ``FHIR_AUTH=smart`` over real HTTP (ASGI), on every
store, and real RS256 JWTs signed by a test RSA key that the app's key source publishes.

``mint(scope, **claims)`` makes an access token as the embedded authorization server does
(contract in docs/authorization.md); ``seeded`` is a client over an app holding `DATA`, written
with a ``system/*.cruds`` token; ``as_(token)`` gives the same client's headers for a token.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from fhir_server.store.base import Store
from tests.api.support import BASE
from tests.support.backends import BACKENDS, Templates

KEY = RSAKey.generate_key(2048, parameters={"kid": "test-1"}, private=True)
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "test-1"}, private=True)
"""Same ``kid``, different key: a signature the server must refuse."""


class TestKeys:
    """Stands in for the authorization server's key store (``auth.keys.KeyStore``)."""

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [KEY.as_dict(private=False)]}


@dataclass
class Revocations:
    revoked: set[str] = field(default_factory=set)

    async def is_revoked(self, jti: str) -> bool:
        return jti in self.revoked


def mint(scope: str, key: RSAKey = KEY, header: dict[str, Any] | None = None, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": BASE,
        "aud": BASE,
        "sub": "user-1",
        "client_id": "app-1",
        "scope": scope,
        "iat": now,
        "exp": now + 3600,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(header or {"alg": "RS256", "kid": "test-1"}, payload, key)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ADMIN = "system/*.cruds"
V3_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
DK_RELATIONSHIP = "http://hl7.dk/fhir/core/CodeSystem/dk-relatedperson-relationshipcodes"

LAB = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory",
        }
    ]
}
VITAL = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
        }
    ]
}
SOR = "urn:oid:1.2.208.176.1.1"


def _obs(id_: str, patient: str, category: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "category": [category],
        "code": {"text": "pulse"},
        "subject": {"reference": f"Patient/{patient}"},
    }


DATA: list[dict[str, Any]] = [
    {
        "resourceType": "Organization",
        "id": "region",
        "identifier": [{"system": "urn:iso:std:iso:3166:-2", "value": "DK-84"}],
    },
    {
        "resourceType": "Organization",
        "id": "ward",
        "partOf": {"reference": "Organization/region"},
        "identifier": [{"system": SOR, "value": "123456789012"}],
    },
    {"resourceType": "Practitioner", "id": "doc"},
    {
        "resourceType": "PractitionerRole",
        "id": "doc-role",
        "active": True,
        "practitioner": {"reference": "Practitioner/doc"},
        "organization": {"reference": "Organization/ward"},
    },
    {
        "resourceType": "Patient",
        "id": "p1",
        "birthDate": "2016-05-01",
        "generalPractitioner": [{"reference": "Practitioner/doc"}],
    },
    {
        "resourceType": "Patient",
        "id": "p2",
        "generalPractitioner": [{"reference": "Practitioner/doc"}],
    },
    {
        "resourceType": "RelatedPerson",
        "id": "mother",
        "patient": {"reference": "Patient/p1"},
        "relationship": [  # a mother with custody (auth.consent.has_custody) of a child of 10
            {"coding": [{"system": V3_ROLE, "code": "MTH"}]},
            {"coding": [{"system": DK_RELATIONSHIP, "code": "PARAUTH"}]},
        ],
    },
    {
        "resourceType": "CarePlan",
        "id": "cp1",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
    },
    {
        "resourceType": "CarePlan",
        "id": "cp2",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p2"},
    },
    {
        "resourceType": "CarePlan",
        "id": "cp3",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
        "replaces": [{"reference": "CarePlan/cp2"}],
    },
    _obs("lab1", "p1", LAB),
    _obs("vital1", "p1", VITAL),
    _obs("lab2", "p2", LAB),
    {"resourceType": "Medication", "id": "med", "code": {"text": "paracetamol"}},
]


@dataclass
class Server:
    client: httpx.AsyncClient
    revocations: Revocations
    app: ServerApp

    async def get(self, url: str, token: str | None, **kw: Any) -> httpx.Response:
        headers = bearer(token) if token else {}
        return await self.client.get(url, headers=headers, **kw)

    async def send(
        self, method: str, url: str, token: str | None, body: Any = None, **headers: str
    ) -> httpx.Response:
        h = {**(bearer(token) if token else {}), **headers}
        return await self.client.request(method, url, headers=h, json=body)


def _settings(store_url: str) -> Settings:
    return Settings(
        store_url=store_url, auth="smart", required_profiles={}, install_conformance=False
    )


async def _write_data(client: httpx.AsyncClient) -> None:
    admin = bearer(mint(ADMIN))
    for resource in DATA:
        url = f"{resource['resourceType']}/{resource['id']}"
        resp = await client.put(url, json=resource, headers=admin)
        assert resp.status_code == 201, (url, resp.text)


async def _seed(store: Store | None, store_url: str) -> None:
    """`DATA` written as the tests' own app would write it, into the session's template."""
    app = ServerApp(_settings(store_url), store, keys=TestKeys())
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            await _write_data(client)
    finally:
        await app.shutdown()


_TEMPLATES = pytest.StashKey[Templates]()


def _templates(request: pytest.FixtureRequest) -> Templates:
    """The session's templates (kept on the config, not as a fixture: other suites import
    `server` alone, e.g. tests/consent/conftest.py)."""
    if _TEMPLATES not in request.config.stash:
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        request.config.stash[_TEMPLATES] = Templates(factory.mktemp("seeded"))
    return request.config.stash[_TEMPLATES]


@pytest.fixture(params=BACKENDS)
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    """A new app over its own copy of a store holding `DATA` (tests/support/backends.py)."""
    templates = _templates(request)
    store, store_url, seeded = await templates.copy("auth", str(request.param), tmp_path, _seed)
    revocations = Revocations()
    app = ServerApp(_settings(store_url), store, keys=TestKeys(), is_revoked=revocations.is_revoked)
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            if not seeded:
                await _write_data(client)
            yield Server(client, revocations, app)
    finally:
        await app.shutdown()


def ids(bundle: dict[str, Any]) -> list[str]:
    """``Type/id`` of every entry with a resource, in order."""
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if "resource" in e and e["resource"]["resourceType"] != "OperationOutcome"
    ]


def issue(resp: httpx.Response) -> dict[str, Any]:
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]  # type: ignore[no-any-return]


async def delete_cp2(server: Server) -> None:
    """Delete p2's CarePlan cp2 as the administrator: cp3 (which `replaces` it) is updated to
    drop that reference first, as referential integrity refuses deleting what is referenced."""
    admin = mint(ADMIN)
    cp3 = next(r for r in DATA if r["id"] == "cp3")
    freed = {k: v for k, v in cp3.items() if k != "replaces"}
    assert (await server.send("PUT", "CarePlan/cp3", admin, freed)).status_code == 200
    assert (await server.send("DELETE", "CarePlan/cp2", admin)).status_code == 204
