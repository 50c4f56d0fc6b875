"""The actor (issue 12 item 1): who the caller is in Danish care — person, authorisation id,
role, organization and its parents, sector, health professional, purpose of use — as the server
builds it from a real token on a real HTTP request (the principal is observed as the app made
it), in SMART mode and from a national token in resource-server mode, on both stores."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from auth.clients import Registration, RegistrationError, build
from auth.identity import (
    GENERAL_PRACTICE,
    MUNICIPALITY_HEALTH,
    MUNICIPALITY_SOCIAL,
    REGION,
    REGION_PSYCHIATRY,
)
from auth.principal import Principal
from auth.verify import external_issuer
from dataset.directory import DirectoryBuilder
from fhir_server.app import ServerApp
from fhir_server.config import Settings
from tests.api.support import BASE
from tests.auth.conftest import ADMIN, TestKeys, bearer, mint
from tests.auth.test_resource_server import ISSUER, idp_token, jwks_uri  # noqa: F401
from tests.support.backends import BACKENDS, app_store

SOR = "urn:oid:1.2.208.176.1.1"
CPR = "urn:oid:1.2.208.176.1.2"
KOMMUNE = "http://hl7.dk/fhir/core/CodeSystem/dk-core-municipality-codes"
AUTH_ID = "https://autregweb.sst.dk"
PSYCHIATRIC = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PSYCHF"}]
}
CHILD_CPR = "0101151234"


def _org(id_: str, identifiers: list[tuple[str, str]], parent: str | None = None, **kw: Any) -> Any:
    org: dict[str, Any] = {
        "resourceType": "Organization",
        "id": id_,
        "identifier": [{"system": s, "value": v} for s, v in identifiers],
        **kw,
    }
    if parent:
        org["partOf"] = {"reference": f"Organization/{parent}"}
    return org


def _role(id_: str, practitioner: str, org: str) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "id": id_,
        "active": True,
        "practitioner": {"reference": f"Practitioner/{practitioner}"},
        "organization": {"reference": f"Organization/{org}"},
    }


def _practitioner(id_: str, authorisation: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"resourceType": "Practitioner", "id": id_}
    if authorisation:
        doc["qualification"] = [
            {"identifier": [{"system": AUTH_ID, "value": authorisation}], "code": {"text": "Læge"}}
        ]
    return doc


def _born(years_ago: int, days: int = 0) -> str:
    today = date.today()
    born = date(today.year - years_ago, today.month, min(today.day, 28))
    return date.fromordinal(born.toordinal() + days).isoformat()


DATA: list[dict[str, Any]] = [
    _org("region-h", [("urn:iso:std:iso:3166:-2", "DK-84")]),
    _org("hospital", [(SOR, "100000000001")], "region-h"),
    _org("ward", [(SOR, "100000000002")], "hospital"),
    _org("psychiatry", [(SOR, "100000000003")], "region-h", type=[PSYCHIATRIC]),
    _org("bua", [(SOR, "100000000004")], "psychiatry"),
    _org("kommune", [(KOMMUNE, "0751")]),
    _org("home-nursing", [(SOR, "100000000005")], "kommune"),
    _org("ppr", [("https://kombit.dk/sts/organisation", "urn:uuid:1")], "kommune"),
    _org("gp", [(SOR, "100000000006"), ("urn:oid:1.2.208.176.1.4", "1234")]),
    _practitioner("doc", "C4B7D"),
    _role("doc-ward", "doc", "ward"),
    _practitioner("psych", "D5F8G"),
    _role("psych-bua", "psych", "bua"),
    _practitioner("nurse", "F6G9H"),
    _role("nurse-home", "nurse", "home-nursing"),
    _role("nurse-ward", "nurse", "ward"),
    _practitioner("social"),
    _role("social-ppr", "social", "ppr"),
    _practitioner("gpdoc", "G7H1J"),
    _role("gp-role", "gpdoc", "gp"),
    {"resourceType": "Patient", "id": "teen", "birthDate": _born(16)},
    {"resourceType": "Patient", "id": "fifteen-tomorrow", "birthDate": _born(15, days=1)},
    {
        "resourceType": "Patient",
        "id": "child",
        "birthDate": _born(10),
        "identifier": [{"system": CPR, "value": CHILD_CPR}],
    },
    {"resourceType": "RelatedPerson", "id": "mother", "patient": {"reference": "Patient/child"}},
]


async def _seed(client: httpx.AsyncClient, token: str) -> None:
    for resource in DATA:
        url = f"{resource['resourceType']}/{resource['id']}"
        resp = await client.put(url, json=resource, headers=bearer(token))
        assert resp.status_code == 201, (url, resp.text)


class Actors:
    """A running app; ``seen(token)`` makes a real request with the token and returns the
    principal the app built for it (and the response)."""

    def __init__(self, app: ServerApp, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    async def request(self, token: str) -> tuple[httpx.Response, Principal | None]:
        authenticator = self.app.fhir.authenticator
        seen: list[Principal] = []
        original = authenticator.authenticate

        async def spy(authorization: str | None, base: str) -> Principal:
            principal = await original(authorization, base)
            seen.append(principal)
            return principal

        authenticator.authenticate = spy  # type: ignore[method-assign]
        try:
            resp = await self.client.get("Organization?_count=1", headers=bearer(token))
        finally:
            del authenticator.authenticate
        return resp, seen[-1] if seen else None

    async def seen(self, token: str) -> Principal:
        resp, principal = await self.request(token)
        assert resp.status_code in (200, 403), resp.text
        assert principal is not None
        return principal


@pytest.fixture(params=BACKENDS)
async def actors(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Actors]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'fhir.db'}",
        auth="smart",
        required_profiles={},
        install_conformance=False,
    )
    app = ServerApp(settings, app_store(str(request.param)), keys=TestKeys())
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            await _seed(client, mint(ADMIN))
            yield Actors(app, client)
    finally:
        await app.shutdown()


def user(fhir_user: str, **claims: Any) -> str:
    return mint("user/*.rs", fhirUser=fhir_user, **claims)


# ---- SMART mode: the user's data ------------------------------------------------------------


async def test_practitioner_role_user_is_person_role_and_organization_chain(
    actors: Actors,
) -> None:
    found = await actors.seen(user("PractitionerRole/doc-ward"))
    assert found.person == "Practitioner/doc"
    assert found.authorisation_id == "C4B7D"
    assert found.role == "PractitionerRole/doc-ward"
    assert found.organization == "Organization/ward"
    assert found.organizations == (
        "Organization/ward",
        "Organization/hospital",
        "Organization/region-h",
    )
    assert (found.sector, found.health_professional, found.purpose) == (REGION, True, "TREATMENT")
    assert found.holders == (
        "Practitioner/doc",
        "PractitionerRole/doc-ward",
        "Organization/ward",
        "Organization/hospital",
        "Organization/region-h",
    )
    assert (found.btg_reason, found.btg_until, found.btg_active(time.time())) == (None, None, False)


async def test_practitioner_with_one_role_gets_it(actors: Actors) -> None:
    found = await actors.seen(user("Practitioner/psych"))
    assert (found.person, found.role, found.organization) == (
        "Practitioner/psych",
        "PractitionerRole/psych-bua",
        "Organization/bua",
    )
    assert found.sector == REGION_PSYCHIATRY


async def test_practitioner_with_roles_in_two_organizations_acts_for_none(actors: Actors) -> None:
    found = await actors.seen(user("Practitioner/nurse"))
    assert (found.person, found.authorisation_id) == ("Practitioner/nurse", "F6G9H")
    assert (found.role, found.organization, found.organizations, found.sector) == (
        None,
        None,
        (),
        None,
    )
    assert not found.health_professional
    assert found.holders == ("Practitioner/nurse",)
    # a token naming the organization picks the role there
    there = await actors.seen(user("Practitioner/nurse", organization_id="Organization/ward"))
    assert (there.role, there.sector, there.health_professional) == (
        "PractitionerRole/nurse-ward",
        REGION,
        True,
    )
    by_sor = await actors.seen(user("Practitioner/nurse", organization_id="100000000005"))
    assert (by_sor.role, by_sor.organization, by_sor.sector) == (
        "PractitionerRole/nurse-home",
        "Organization/home-nursing",
        MUNICIPALITY_HEALTH,
    )


@pytest.mark.parametrize(
    ("fhir_user", "sector", "health"),
    [
        ("PractitionerRole/psych-bua", REGION_PSYCHIATRY, True),  # under a psychiatric unit
        ("PractitionerRole/nurse-home", MUNICIPALITY_HEALTH, True),
        ("PractitionerRole/social-ppr", MUNICIPALITY_SOCIAL, False),
        ("PractitionerRole/gp-role", GENERAL_PRACTICE, True),
    ],
)
async def test_sectors_and_health_professionals(
    actors: Actors, fhir_user: str, sector: str, health: bool
) -> None:
    found = await actors.seen(user(fhir_user))
    assert (found.sector, found.health_professional, found.purpose) == (sector, health, "TREATMENT")


async def test_citizens_and_relatives(actors: Actors) -> None:
    teen = await actors.seen(mint("patient/*.rs", fhirUser="Patient/teen"))
    assert (teen.person, teen.patient, teen.sector, teen.purpose) == (
        "Patient/teen",
        "teen",
        "citizen",
        "REQUEST",
    )
    assert (teen.is_over_15, teen.health_professional, teen.holders) == (
        True,
        False,
        ("Patient/teen",),
    )
    child = await actors.seen(mint("patient/*.rs", fhirUser="Patient/child"))
    assert child.is_over_15 is False
    almost = await actors.seen(mint("patient/*.rs", fhirUser="Patient/fifteen-tomorrow"))
    assert almost.is_over_15 is False
    mother = await actors.seen(mint("patient/*.rs", fhirUser="RelatedPerson/mother"))
    assert (mother.person, mother.patient, mother.sector, mother.purpose) == (
        "RelatedPerson/mother",
        "child",
        "citizen",
        "REQUEST",
    )


async def test_a_system_token_without_organization_is_no_actor(actors: Actors) -> None:
    found = await actors.seen(mint(ADMIN))
    assert (found.person, found.organization, found.sector, found.purpose) == (
        None,
        None,
        None,
        None,
    )
    assert found.holders == () and not found.health_professional


async def test_a_backend_token_acts_for_its_organization(actors: Actors) -> None:
    found = await actors.seen(mint(ADMIN, organization_id="Organization/home-nursing"))
    assert (found.person, found.role, found.organization, found.sector) == (
        None,
        None,
        "Organization/home-nursing",
        MUNICIPALITY_HEALTH,
    )
    assert found.holders == ("Organization/home-nursing", "Organization/kommune")
    assert (found.purpose, found.health_professional) == ("TREATMENT", False)


# ---- break-the-glass on the principal, and its refusals -------------------------------------


async def test_btg_token_of_a_health_professional(actors: Actors) -> None:
    now = int(time.time())
    token = user(
        "PractitionerRole/doc-ward",
        purpose_of_use="EMERGENCY",
        btg_reason="Unconscious patient in the ER",
        btg_until=now + 600,
        iat=now,
    )
    found = await actors.seen(token)
    assert (found.purpose, found.btg_reason, found.btg_until) == (
        "EMERGENCY",
        "Unconscious patient in the ER",
        now + 600,
    )
    assert found.btg_active(now + 599) and not found.btg_active(now + 600)


async def test_btg_lasts_at_most_the_configured_time_and_never_past_the_token(
    actors: Actors,
) -> None:
    now = int(time.time())
    long = user(
        "PractitionerRole/gp-role",
        purpose_of_use="BTG",
        btg_reason="r",
        iat=now,
        exp=now + 3600,
        btg_until=now + 10 * 3600,
    )
    assert (await actors.seen(long)).btg_until == now + 3600  # the token's exp
    actors.app.fhir.authenticator.btg_seconds = 900
    short = user(
        "PractitionerRole/gp-role", purpose_of_use="BTG", btg_reason="r", iat=now, exp=now + 3600
    )
    assert (await actors.seen(short)).btg_until == now + 900


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"fhirUser": "PractitionerRole/social-ppr", "btg_reason": "r"}, "health professionals"),
        ({"fhirUser": "Patient/teen", "btg_reason": "r"}, "health professionals"),
        ({"fhirUser": "RelatedPerson/mother", "btg_reason": "r"}, "health professionals"),
        ({"btg_reason": "r"}, "health professionals"),  # a client without a person
        ({"fhirUser": "PractitionerRole/doc-ward"}, "needs a btg_reason"),
        ({"fhirUser": "PractitionerRole/doc-ward", "btg_reason": " "}, "needs a btg_reason"),
    ],
)
async def test_btg_token_refused(actors: Actors, claims: dict[str, Any], says: str) -> None:
    resp, _ = await actors.request(mint("user/*.rs", purpose_of_use="EMERGENCY", **claims))
    assert resp.status_code == 401, resp.text
    assert says in resp.json()["issue"][0]["diagnostics"]
    assert 'error="invalid_token"' in resp.headers["www-authenticate"]


async def test_unknown_purpose_of_use_refused(actors: Actors) -> None:
    resp, _ = await actors.request(user("PractitionerRole/doc-ward", purpose_of_use="MARKETING"))
    assert resp.status_code == 401
    assert "TREATMENT, EMERGENCY (BTG), REQUEST" in resp.json()["issue"][0]["diagnostics"]


# ---- backend registration --------------------------------------------------------------------


def test_organization_is_registered_for_backend_services_only() -> None:
    reg = Registration(
        "svc", "confidential-symmetric", backend=True, organization="Organization/home-nursing"
    )
    client, _ = build(reg)
    assert client.organization == "Organization/home-nursing"
    assert (
        build(Registration("svc", "confidential-symmetric", backend=True))[0].organization is None
    )
    with pytest.raises(RegistrationError, match="only for --backend"):
        build(
            Registration(
                "app",
                "public",
                redirect_uris=["https://app.example/cb"],
                organization="Organization/x",
            )
        )
    with pytest.raises(RegistrationError, match="--organization"):
        build(Registration("svc", "confidential-symmetric", backend=True, organization="ward"))


# ---- resource-server mode: the national attributes ------------------------------------------

NATIONAL = {
    "client_id": "azp",
    "scope": "scp",
    "fhir_user": "fhir_user",
    "purpose_of_use": "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse",
    "btg_reason": "dk:btg_reason",
    "is_over_15": "dk:healthcare:saml:attribute:IsOver15",
    "children_in_custody": "dk:healthcare:saml:attribute:ChildrenInCustody",
    "organization_id": "urn:oasis:names:tc:xspa:1.0:subject:organization-id",
}


@pytest.fixture(params=BACKENDS)
async def national(
    request: pytest.FixtureRequest,
    jwks_uri: str,  # noqa: F811
    tmp_path: Path,
) -> AsyncIterator[Actors]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'fhir.db'}",
        auth="resource-server",
        auth_issuers=[
            {"issuer": ISSUER, "jwks_uri": jwks_uri, "audience": "fhir-api", "claims": NATIONAL}
        ],
        required_profiles={},
        install_conformance=False,
        btg_seconds=1800,
    )
    app = ServerApp(settings, app_store(str(request.param)))
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            await _seed(client, idp_token(scp="system/*.cruds"))
            yield Actors(app, client)
    finally:
        await app.shutdown()


async def test_national_token_attributes_map_to_the_actor(national: Actors) -> None:
    now = int(time.time())
    token = idp_token(
        scp="user/*.rs",
        fhir_user="Practitioner/nurse",
        iat=now,
        exp=now + 3600,
        btg_until=now + 999_999,  # only this server's own tokens may say; ignored here
        **{
            NATIONAL["organization_id"]: f"{SOR}|100000000002",
            NATIONAL["purpose_of_use"]: "EMERGENCY",
            NATIONAL["btg_reason"]: "Acute psychosis, patient cannot consent",
        },
    )
    found = await national.seen(token)
    assert (found.role, found.organization, found.sector) == (
        "PractitionerRole/nurse-ward",
        "Organization/ward",
        REGION,
    )
    assert (found.purpose, found.btg_reason) == (
        "EMERGENCY",
        "Acute psychosis, patient cannot consent",
    )
    assert found.btg_until == now + 1800  # FHIR_BTG_SECONDS from issue
    assert found.btg_active(now + 1) and not found.btg_active(now + 1800)


async def test_national_citizen_attributes(national: Actors) -> None:
    token = idp_token(
        scp="patient/*.rs",
        fhir_user="RelatedPerson/mother",
        **{
            NATIONAL["purpose_of_use"]: "REQUEST",
            NATIONAL["is_over_15"]: "true",
            NATIONAL["children_in_custody"]: [CHILD_CPR, "0202020000"],  # one unknown
        },
    )
    found = await national.seen(token)
    assert (found.purpose, found.is_over_15, found.children_in_custody) == (
        "REQUEST",
        True,
        ("child",),
    )
    assert found.sector == "citizen" and not found.health_professional


@pytest.mark.parametrize(
    ("fhir_user", "reason", "says"),
    [
        ("PractitionerRole/social-ppr", "r", "health professionals"),
        ("Patient/teen", "r", "health professionals"),
        ("PractitionerRole/doc-ward", None, "needs a btg_reason"),
    ],
)
async def test_national_emergency_refused(
    national: Actors, fhir_user: str, reason: str | None, says: str
) -> None:
    claims = {NATIONAL["purpose_of_use"]: "urn:oasis:names:tc:xspa:1.0:EMERGENCY"}
    if reason:
        claims[NATIONAL["btg_reason"]] = reason
    resp, _ = await national.request(idp_token(scp="user/*.rs", fhir_user=fhir_user, **claims))
    assert resp.status_code == 401
    assert says in resp.json()["issue"][0]["diagnostics"]


def test_unknown_claim_mapping_key_is_refused_at_start(jwks_uri: str) -> None:  # noqa: F811
    issuer = {"issuer": ISSUER, "jwks_uri": jwks_uri, "claims": {"fhirUser": "fhir_user"}}
    with pytest.raises(ValidationError, match="unknown key\\(s\\) fhirUser; the keys are subject"):
        Settings(auth="resource-server", auth_issuers=[issuer])
    with pytest.raises(ValueError, match="unknown key\\(s\\) fhirUser"):
        external_issuer(issuer)


async def test_demo_data_psychiatry_staff_are_region_psychiatry(actors: Actors) -> None:
    """The demo region's psychiatry (and so BUA under it) is typed as a psychiatric unit."""
    builder = DirectoryBuilder("t", random.Random(1), 5000)
    units = builder.region("DK-82")
    admin = bearer(mint(ADMIN))
    staff = {units.bua.staff[0], units.medical.staff[0]}
    wanted = {s.role_id for s in staff} | {s.practitioner_id for s in staff}
    for resource in builder.out:
        if resource["resourceType"] != "Organization" and resource["id"] not in wanted:
            continue
        url = f"{resource['resourceType']}/{resource['id']}"
        resp = await actors.client.put(url, json=resource, headers=admin)
        assert resp.status_code == 201, resp.text
    bua = await actors.seen(user(f"PractitionerRole/{units.bua.staff[0].role_id}"))
    region = f"Organization/{units.org.id}"
    assert (bua.sector, bua.organizations[-1]) == (REGION_PSYCHIATRY, region)
    ward = await actors.seen(user(f"PractitionerRole/{units.medical.staff[0].role_id}"))
    assert ward.sector == REGION
