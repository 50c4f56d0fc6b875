"""ConceptMap/$translate over real HTTP (issue 13 item 4): the bundled MedCom ConceptMaps are
served as resources and translate forwards and reversed, at type level (by url, by source and
target ValueSet) and at instance level (over the stored map, including one a client posted)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import MakeClient
from tests.api.support import assert_outcome

MEDCOM_TERMINOLOGY = "http://medcomfhir.dk/ig/terminology"
FF = "http://faellesforloeb.dk/fhir"
CC_CATEGORY = f"{MEDCOM_TERMINOLOGY}/CodeSystem/medcom-careCommunication-categoryCodes"
CC_CATEGORIES = f"{MEDCOM_TERMINOLOGY}/ValueSet/medcom-careCommunication-categories"
PLAN_CATEGORY = f"{FF}/CodeSystem/ff-careplan-category"
PLAN_MAP = f"{FF}/ConceptMap/ff-careplan-category-to-medcom-category"
REQUEST_MAP = f"{FF}/ConceptMap/ff-servicerequest-category-to-medcom-category"
STATUS_MAP = f"{FF}/ConceptMap/ff-medcom-hn-activity-to-encounter-status"
CLASS_MAP = f"{FF}/ConceptMap/ff-medcom-hn-activity-to-encounter-class"
SOR_EDI_MAP = f"{MEDCOM_TERMINOLOGY}/ConceptMap/medcom-messaging-mapFhirToSorEdi"
ACTIVITY = f"{MEDCOM_TERMINOLOGY}/CodeSystem/medcom-messaging-activityCodes"
ACTIVITIES = f"{MEDCOM_TERMINOLOGY}/ValueSet/medcom-hospitalNotification-messageActivities"
EVENT = f"{MEDCOM_TERMINOLOGY}/CodeSystem/medcom-messaging-eventCodes"
SOR_EDI = f"{MEDCOM_TERMINOLOGY}/CodeSystem/medcom-messaging-sorEdiSystem"
ENCOUNTER_STATUS = "http://hl7.org/fhir/encounter-status"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SNOMED = "http://snomed.info/sct"


@pytest.fixture
async def installed(make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client(install_conformance=True)


def _matches(resp: httpx.Response) -> tuple[bool, list[tuple[str, str, str]]]:
    """(result, [(equivalence, system, code)]) of a $translate answer."""
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["resourceType"] == "Parameters"
    result = next(p["valueBoolean"] for p in body["parameter"] if p["name"] == "result")
    out = []
    for p in body["parameter"]:
        if p["name"] == "match":
            parts = {part["name"]: part for part in p["part"]}
            concept = parts["concept"]["valueCoding"]
            out.append((parts["equivalence"]["valueCode"], concept["system"], concept["code"]))
    return result, out


async def _translate(
    client: httpx.AsyncClient, path: str = "ConceptMap/$translate", **q: str
) -> Any:
    return _matches(await client.get(path, params=q))


async def test_the_maps_are_served_as_resources(installed: httpx.AsyncClient) -> None:
    found = (await installed.get("ConceptMap", params={"url": PLAN_MAP})).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [
        "ff-careplan-category-to-medcom-category"
    ]
    sor = await installed.get("ConceptMap/medcom-messaging-mapFhirToSorEdi")
    assert sor.status_code == 200, sor.text
    assert sor.json()["url"] == SOR_EDI_MAP
    every = (await installed.get("ConceptMap", params={"_summary": "count"})).json()
    assert every["total"] == 5


async def test_plan_and_request_categories_to_carecommunication_categories(
    client: httpx.AsyncClient,
) -> None:
    assert await _translate(
        client, url=PLAN_MAP, system=PLAN_CATEGORY, code="iv-treatment-at-home"
    ) == (True, [("wider", CC_CATEGORY, "extended-care-responsibility")])
    # chosen by source and target ValueSet instead of url
    assert await _translate(
        client,
        source=f"{FF}/ValueSet/ff-servicerequest-category",
        target=CC_CATEGORIES,
        system=SNOMED,
        code="658161000005107",
    ) == (True, [("wider", CC_CATEGORY, "nursing")])
    # reversed: which plans a received psychiatry message may concern
    result, matches = await _translate(
        client, url=PLAN_MAP, system=CC_CATEGORY, code="psychiatry-social-disability",
        reverse="true",
    )  # fmt: skip
    assert result is True
    assert sorted(matches) == [
        ("narrower", PLAN_CATEGORY, "child-youth-psychiatry"),
        ("narrower", PLAN_CATEGORY, "severe-mental-illness"),
    ]


@pytest.mark.parametrize(
    ("activity", "status", "class_"),
    [
        ("admit-inpatient", "in-progress", "IMP"),
        ("admit-emergency", "in-progress", "EMER"),
        ("start-leave-inpatient", "onleave", "IMP"),
        ("cancel-start-leave-inpatient", "in-progress", "IMP"),
        ("end-leave-inpatient", "in-progress", "IMP"),
        ("cancel-end-leave-inpatient", "onleave", "IMP"),
        ("discharge-emergency-home", "finished", "EMER"),
        ("revise-discharge-inpatient-home", "finished", "IMP"),
        ("cancel-discharge-inpatient-home", "in-progress", "IMP"),
        ("cancel-admit-inpatient", "entered-in-error", "IMP"),
    ],
)
async def test_hospital_notification_activity_to_encounter_status_and_class(
    client: httpx.AsyncClient, activity: str, status: str, class_: str
) -> None:
    assert await _translate(client, url=STATUS_MAP, system=ACTIVITY, code=activity) == (
        True,
        [("wider", ENCOUNTER_STATUS, status)],
    )
    # no url: every bundled map from the HospitalNotification activities, narrowed by system
    assert await _translate(
        client, source=ACTIVITIES, system=ACTIVITY, code=activity, targetsystem=V3_ACT_CODE
    ) == (True, [("wider", V3_ACT_CODE, class_)])


async def test_event_codes_to_sor_edi_and_back(client: httpx.AsyncClient) -> None:
    for event, edi in [
        ("care-communication-message", "FDIS91"),
        ("hospital-notification-message", "FDIS20"),
        ("acknowledgement-message", "FCTL"),
    ]:
        assert await _translate(client, url=SOR_EDI_MAP, system=EVENT, code=event) == (
            True,
            [("equivalent", SOR_EDI, edi)],
        )
        assert await _translate(
            client, url=SOR_EDI_MAP, system=SOR_EDI, code=edi, reverse="true"
        ) == (True, [("equivalent", EVENT, event)])


async def test_post_parameters_with_a_coding(client: httpx.AsyncClient) -> None:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "url", "valueUri": SOR_EDI_MAP},
            {"name": "coding", "valueCoding": {"system": EVENT, "code": "acknowledgement-message"}},
        ],
    }
    resp = await client.post("ConceptMap/$translate", json=body)
    assert _matches(resp) == (True, [("equivalent", SOR_EDI, "FCTL")])


async def test_an_unmapped_code_is_no_match(client: httpx.AsyncClient) -> None:
    resp = await client.get(
        "ConceptMap/$translate",
        params={"url": SOR_EDI_MAP, "system": EVENT, "code": "empty-message"},
    )
    result, matches = _matches(resp)
    assert (result, matches) == (False, [])
    assert any(p["name"] == "message" for p in resp.json()["parameter"])


async def test_instance_level_uses_the_stored_map(installed: httpx.AsyncClient) -> None:
    assert await _translate(
        installed,
        "ConceptMap/ff-medcom-hn-activity-to-encounter-class/$translate",
        system=ACTIVITY,
        code="start-leave-inpatient",
    ) == (True, [("wider", V3_ACT_CODE, "IMP")])
    mine = {
        "resourceType": "ConceptMap",
        "url": "http://example.org/ConceptMap/colours",
        "status": "draft",
        "group": [
            {
                "source": "http://example.org/colour",
                "target": "http://example.org/farve",
                "element": [
                    {"code": "red", "target": [{"code": "rød", "equivalence": "equivalent"}]}
                ],
            }
        ],
    }
    created = await installed.post("ConceptMap", json=mine)
    assert created.status_code == 201, created.text
    path = f"ConceptMap/{created.json()['id']}/$translate"
    assert await _translate(installed, path, system="http://example.org/colour", code="red") == (
        True,
        [("equivalent", "http://example.org/farve", "rød")],
    )
    assert_outcome(
        await installed.get(
            "ConceptMap/no-such-map/$translate", params={"system": EVENT, "code": "x"}
        ),
        404,
        "not-found",
    )


async def test_bad_requests_name_the_parameter(client: httpx.AsyncClient) -> None:
    assert_outcome(
        await client.get("ConceptMap/$translate", params={"url": PLAN_MAP}),
        400,
        "invalid",
        ["code"],
    )
    assert_outcome(
        await client.get("ConceptMap/$translate", params={"url": PLAN_MAP, "code": "x"}),
        400,
        "invalid",
        ["system"],
    )
    assert_outcome(
        await client.get(
            "ConceptMap/$translate",
            params={"url": PLAN_MAP, "system": PLAN_CATEGORY, "code": "x", "reverse": "maybe"},
        ),
        400,
        "invalid",
        ["reverse"],
    )
    assert_outcome(
        await client.get(
            "ConceptMap/$translate",
            params={"url": "http://example.org/nope", "system": EVENT, "code": "x"},
        ),
        404,
        "not-found",
        ["url"],
    )
