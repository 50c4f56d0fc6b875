"""HospitalNotification → the Encounter of the citizen's hospital stay, by MedCom's activity
code table, and the care team told (issue 13, item 2): every activity code and its revise and
cancel variants through `POST /fhir/$process-message` on every store, MedCom's published
sequence (admission, leave, end of leave, discharge; correction, cancellation; death)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from medcom.inbound.hospitalnotification import STATUS
from tests.medcom.conftest import HERLEV, HN_PATIENT, Medcom, ack_of, altered, example

EMERGENCY = {"admit-emergency", "discharge-emergency-home"}


def _class(activity: str) -> str:
    base = activity.removeprefix("revise-").removeprefix("cancel-")
    return "EMER" if base in EMERGENCY else "IMP"


def _resource(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


LEAVE = _resource(example("hn-stor-G.json"), "Encounter")["extension"]


def notification(activity: str, status: str, preceding: str | None = None) -> dict[str, Any]:
    """A HospitalNotification of ``activity`` leaving the stay ``status`` — MedCom's STIN
    example with new ids, its Encounter and its Provenance made to say so."""
    message = altered("hn-stin-G.json")
    header = _resource(message, "MessageHeader")
    header_id = str(uuid.uuid4())
    message["id"] = str(uuid.uuid4())
    header["id"] = header_id
    message["entry"][0]["fullUrl"] = f"MessageHeader/{header_id}"
    encounter = _resource(message, "Encounter")
    encounter["status"] = status
    encounter["class"]["code"] = _class(activity)
    if status == "onleave" or activity.startswith(("end-leave", "revise-end-leave")):
        encounter["extension"] = LEAVE
    if status == "finished":
        encounter["period"]["end"] = "2023-03-07T09:45:30+01:00"
    provenance = _resource(message, "Provenance")
    provenance["target"] = [{"reference": f"MessageHeader/{header_id}"}]
    provenance["activity"]["coding"][0]["code"] = activity
    if preceding is not None:
        role = "removal" if activity.startswith("cancel-") else "revision"
        provenance["entity"] = [{"role": role, "what": {"reference": f"MessageHeader/{preceding}"}}]
    return message


def _header_id(message: dict[str, Any]) -> str:
    return str(message["entry"][0]["resource"]["id"])


@pytest.mark.parametrize(("activity", "status"), sorted(STATUS.items()))
async def test_each_activity_leaves_the_stay_as_the_table_says(
    medcom: Medcom, activity: str, status: str
) -> None:
    admit = "admit-emergency" if _class(activity) == "EMER" else "admit-inpatient"
    first = notification(admit, "in-progress")
    code, outcome = ack_of(await medcom.send(first))
    assert code == "ok", outcome
    if activity != admit:
        code, outcome = ack_of(await medcom.send(notification(activity, status, _header_id(first))))
        assert code == "ok", outcome
    [stay] = await medcom.search("Encounter")  # one stay, updated: never a second
    assert stay["status"] == status
    assert stay["class"]["code"] == _class(activity)
    assert stay["subject"] == {"reference": f"Patient/{HN_PATIENT}"}
    assert stay["episodeOfCare"][0]["identifier"]["value"] == "04675bbd-c540-4545-924c-1fa79b64535c"
    if status == "onleave":
        assert stay["extension"] == LEAVE  # the leave period kept
    tasks = await medcom.search("Task")
    assert len(tasks) == (1 if activity == admit else 2)
    assert all(t["focus"] == {"reference": f"Encounter/{stay['id']}"} for t in tasks)


async def test_medcoms_published_stay_admission_leave_and_back(medcom: Medcom) -> None:
    """STIN, STOR, SLOR as MedCom publishes them: one Encounter in-progress, on leave, back."""
    seen = []
    for name in ("hn-stin-G.json", "hn-stor-G.json", "hn-slor-G.json"):
        code, outcome = ack_of(await medcom.send(example(name)))
        assert code == "ok", (name, outcome)
        [stay] = await medcom.search("Encounter")
        seen.append(stay["status"])
    assert seen == ["in-progress", "onleave", "in-progress"]
    history = await medcom.client.get(f"Encounter/{stay['id']}/_history", headers=medcom.admin)
    assert len(history.json()["entry"]) == 3


async def test_a_correction_and_a_cancellation(medcom: Medcom) -> None:
    for name, status in (
        ("hn-re-stin-P.json", "in-progress"),
        ("hn-an-stin-P.json", "entered-in-error"),
    ):
        code, outcome = ack_of(await medcom.send(example(name)))
        assert code == "ok", (name, outcome)
        [stay] = await medcom.search("Encounter")
        assert stay["status"] == status


async def test_a_death_finishes_the_stay_and_marks_the_citizen(medcom: Medcom) -> None:
    code, outcome = ack_of(await medcom.send(example("hn-mors-K.json")))
    assert code == "ok", outcome
    [stay] = await medcom.search("Encounter")
    assert stay["status"] == "finished"
    patient = await medcom.read(f"Patient/{HN_PATIENT}")
    assert patient["deceasedBoolean"] is True


async def test_the_care_team_is_told(medcom: Medcom) -> None:
    """The citizen's active CareTeam is managed by Plejecenter Herlev: a Task for it."""
    code, _ = ack_of(await medcom.send(example("hn-stin-G.json")))
    assert code == "ok"
    [stay] = await medcom.search("Encounter")
    [task] = await medcom.search("Task")
    assert task["owner"] == {"reference": f"Organization/{HERLEV}"}
    assert task["for"] == {"reference": f"Patient/{HN_PATIENT}"}
    assert task["focus"] == {"reference": f"Encounter/{stay['id']}"}
    assert task["status"] == "requested"


async def test_a_cancelled_death_brings_the_citizen_and_the_stay_back(medcom: Medcom) -> None:
    """AN_MORS: the current activity again, the Patient alive, a removal of the death."""
    death = example("hn-mors-K.json")
    assert ack_of(await medcom.send(death))[0] == "ok"
    cancel = altered("hn-mors-K.json")
    header_id = str(uuid.uuid4())
    cancel["id"] = str(uuid.uuid4())
    cancel["entry"][0]["resource"]["id"] = header_id
    cancel["entry"][0]["fullUrl"] = f"MessageHeader/{header_id}"
    _resource(cancel, "Patient")["deceasedBoolean"] = False
    encounter = _resource(cancel, "Encounter")
    encounter["status"] = "in-progress"
    del encounter["period"]["end"]
    death_header = _header_id(death)
    for entry in cancel["entry"]:
        provenance = entry["resource"]
        if provenance["resourceType"] == "Provenance" and provenance["target"] == [
            {"reference": f"MessageHeader/{death_header}"}
        ]:
            provenance["target"] = [{"reference": f"MessageHeader/{header_id}"}]
            provenance["entity"] = [
                {"role": "removal", "what": {"reference": f"MessageHeader/{death_header}"}}
            ]
    code, outcome = ack_of(await medcom.send(cancel))
    assert code == "ok", outcome
    [stay] = await medcom.search("Encounter")
    assert stay["status"] == "in-progress"
    patient = await medcom.read(f"Patient/{HN_PATIENT}")
    assert patient["deceasedBoolean"] is False
