"""The principal built from a token: client, user, patient context, organization and sector."""

from __future__ import annotations

import pytest

from auth.identity import (
    GENERAL_PRACTICE,
    MUNICIPALITY_HEALTH,
    MUNICIPALITY_SOCIAL,
    REGION,
    REGION_PSYCHIATRY,
    sector_of,
)
from auth.principal import Principal
from tests.api.support import BASE
from tests.auth.conftest import Server, mint

SOR = {"system": "urn:oid:1.2.208.176.1.1", "value": "1"}
YDER = {"system": "urn:oid:1.2.208.176.1.4", "value": "1"}
KOMMUNE = {
    "system": "http://hl7.dk/fhir/core/CodeSystem/dk-core-municipality-codes",
    "value": "0101",
}
REGION_ID = {"system": "urn:iso:std:iso:3166:-2", "value": "DK-84"}
PSYCH = [
    {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PHU"}]}
]
KOMBIT = {"system": "https://kombit.dk/sts/organisation", "value": "urn:uuid:x"}


async def principal(server: Server, token: str) -> Principal:
    return await server.app.fhir.authenticator.authenticate(f"Bearer {token}", BASE)


async def test_practitioner_role_gives_organization_and_sector(server: Server) -> None:
    found = await principal(server, mint("user/*.rs", fhirUser="PractitionerRole/doc-role"))
    assert (found.organization, found.sector) == ("Organization/ward", REGION)
    assert (found.subject, found.client_id, found.patient) == ("user-1", "app-1", None)
    assert not found.unrestricted


async def test_practitioner_with_one_role(server: Server) -> None:
    found = await principal(server, mint("user/*.rs", fhirUser="Practitioner/doc"))
    assert (found.fhir_user, found.organization, found.sector) == (
        "Practitioner/doc",
        "Organization/ward",
        REGION,
    )


async def test_patient_and_related_person(server: Server) -> None:
    citizen = await principal(server, mint("patient/*.rs", fhirUser="Patient/p1"))
    assert (citizen.patient, citizen.organization) == ("p1", None)
    relative = await principal(server, mint("patient/*.rs", fhirUser="RelatedPerson/mother"))
    assert relative.patient == "p1"
    launched = await principal(server, mint("patient/*.rs", patient="p2", encounter="e1"))
    assert (launched.patient, launched.encounter, launched.fhir_user) == ("p2", "e1", None)


async def test_unknown_fhir_user_resolves_to_nothing(server: Server) -> None:
    found = await principal(server, mint("user/*.rs", fhirUser="Practitioner/nobody"))
    assert (found.organization, found.sector, found.patient) == (None, None, None)


async def test_scopes_are_parsed(server: Server) -> None:
    found = await principal(server, mint("openid fhirUser patient/CarePlan.read", patient="p1"))
    assert found.scopes.has("openid") and found.may("read", "CarePlan")
    assert not found.may("create", "CarePlan") and not found.may("read", "Observation")
    assert found.may("search-type", "CarePlan")


@pytest.mark.parametrize(
    ("chain", "sector"),
    [
        ([{"identifier": [SOR]}, {"identifier": [SOR]}, {"identifier": [REGION_ID]}], REGION),
        ([{"identifier": [SOR]}, {"type": PSYCH}, {"identifier": [REGION_ID]}], REGION_PSYCHIATRY),
        ([{"identifier": [SOR, KOMMUNE], "type": PSYCH}], MUNICIPALITY_HEALTH),
        ([{"identifier": [SOR, YDER]}], GENERAL_PRACTICE),
        ([{"identifier": [SOR]}, {"identifier": [KOMMUNE]}], MUNICIPALITY_HEALTH),
        ([{"identifier": [KOMBIT]}, {"identifier": [KOMMUNE]}], MUNICIPALITY_SOCIAL),
        ([{"identifier": [SOR]}], None),
        ([{}], None),
    ],
)
def test_sector_of(chain: list[dict[str, object]], sector: str | None) -> None:
    assert sector_of(chain) == sector
