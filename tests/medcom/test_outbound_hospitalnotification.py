"""``Encounter/[id]/$medcom-hospitalnotification`` for a hospital-side deployment: the activity
derived from the Encounter's change, the Encounter as MedCom allows it, the chain of the stay's
notifications; valid against the HospitalNotification profile. Both stores."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.write_checks import validation_issues
from medcom.codes import HN_LEAVE_PERIOD, HN_MESSAGE, HN_REPORT_OF_ADMISSION
from tests.medcom.record import RECORD, SETTINGS, load, parameters
from tests.medcom.record import resources as of

STAY = next(r for r in RECORD if r["resourceType"] == "Encounter")
FORBIDDEN = ("type", "serviceType", "priority", "participant", "location", "hospitalization")


@pytest.fixture
async def client(make_client: Any) -> Any:
    c = await make_client(**SETTINGS)
    await load(c)
    return c


async def notify(client: Any, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "Encounter/stay/$medcom-hospitalnotification",
        json=parameters(receiver="Organization/homecare", send=True, **extra),
    )
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["meta"]["profile"] == [HN_MESSAGE]
    assert [i for _, i in validation_issues(bundle, [HN_MESSAGE]) if i.severity == "error"] == []
    assert "definition" not in bundle["entry"][0]["resource"]
    for entry in bundle["entry"]:
        assert entry["resource"]["id"] in entry["resource"]["text"]["div"]
    return bundle


def activity(bundle: dict[str, Any]) -> str:
    return str(of(bundle, "Provenance")[-1]["activity"]["coding"][0]["code"])


async def change(client: Any, **fields: Any) -> None:
    current = (await client.get("Encounter/stay")).json()
    current.update(fields)
    assert (await client.put("Encounter/stay", json=current)).status_code == 200


async def test_a_stay_admit_leave_return_discharge_cancel(client: Any) -> None:
    await change(client, type=[{"text": "forbidden in the message"}])
    admit = await notify(client)
    assert activity(admit) == "admit-inpatient"
    header = admit["entry"][0]["resource"]
    assert header["extension"] == [{"url": HN_REPORT_OF_ADMISSION, "valueBoolean": True}]
    (encounter,) = of(admit, "Encounter")
    assert encounter["status"] == "in-progress"
    assert not any(k in encounter for k in FORBIDDEN)
    assert encounter["episodeOfCare"][0]["identifier"]["value"] == "stay"

    leave = {"status": "onleave", "period": {"start": "2026-12-02T09:00:00+01:00"}}
    await change(client, status="onleave", statusHistory=[leave])
    start = await notify(client)
    assert activity(start) == "start-leave-inpatient"
    (encounter,) = of(start, "Encounter")
    assert encounter["extension"] == [
        {"url": HN_LEAVE_PERIOD, "valuePeriod": {"start": "2026-12-02T09:00:00+01:00"}}
    ]
    provenances = of(start, "Provenance")
    assert len(provenances) == 2  # the admission's, then this one's
    assert provenances[-1]["entity"] == [
        {"role": "revision", "what": {"reference": f"MessageHeader/{header['id']}"}}
    ]

    back = {**leave, "period": {**leave["period"], "end": "2026-12-02T18:00:00+01:00"}}
    await change(client, status="in-progress", statusHistory=[back])
    end = await notify(client)
    assert activity(end) == "end-leave-inpatient"
    assert of(end, "Encounter")[0]["extension"][0]["valuePeriod"]["end"].startswith("2026-12-02T18")

    await change(
        client, status="finished", period={**STAY["period"], "end": "2026-12-05T10:00:00+01:00"}
    )
    discharge = await notify(client)
    assert activity(discharge) == "discharge-inpatient-home"
    assert of(discharge, "Encounter")[0]["status"] == "finished"
    assert len(of(discharge, "Provenance")) == 4

    cancel = await notify(client, activity="cancel-discharge-inpatient-home")
    assert of(cancel, "Encounter")[0]["status"] == "in-progress"
    discharge_header = discharge["entry"][0]["resource"]["id"]
    assert of(cancel, "Provenance")[-1]["entity"] == [
        {"role": "removal", "what": {"reference": f"MessageHeader/{discharge_header}"}}
    ]


async def test_a_correction_is_derived_from_an_unchanged_status(client: Any) -> None:
    await notify(client)
    await change(client, period={"start": "2026-12-01T09:30:00+01:00"})
    assert activity(await notify(client)) == "revise-admit-inpatient"


async def test_a_replacement_cpr_and_an_unknown_activity_are_refused(client: Any) -> None:
    await change(client, subject={"reference": "Patient/xecpr"})
    response = await client.post(
        "Encounter/stay/$medcom-hospitalnotification",
        json=parameters(receiver="Organization/homecare"),
    )
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Encounter.subject"]
    response = await client.post(
        "Encounter/stay/$medcom-hospitalnotification",
        json=parameters(receiver="Organization/homecare", activity="retract-message"),
    )
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["activity"]


async def test_a_death_reports_the_current_activity_with_the_stay_finished(client: Any) -> None:
    await notify(client)
    bruno = (await client.get("Patient/bruno")).json()
    bruno["deceasedDateTime"] = "2026-12-03T04:00:00+01:00"
    assert (await client.put("Patient/bruno", json=bruno)).status_code == 200
    await change(
        client, status="finished", period={**STAY["period"], "end": "2026-12-03T04:00:00+01:00"}
    )
    death = await notify(client)
    assert activity(death) == "admit-inpatient"
    assert of(death, "Encounter")[0]["status"] == "finished"
    assert of(death, "Patient")[0]["deceasedDateTime"].startswith("2026-12-03")
