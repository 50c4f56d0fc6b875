"""``$medcom-carecommunication``: the CareCommunication built from the record — a clinician's
Communication (new, reply, forward) or a rendering of a CarePlan, ServiceRequest, a patient's
MedicationStatements or a CareTeam — over real HTTP, on both stores."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fhir_server.write_checks import validation_issues
from medcom.codes import CC_DEFINITION, CC_MESSAGE
from tests.medcom.record import ASK, GLN, RECEIVER_SOR, SENDER_SOR, SETTINGS, load, parameters
from tests.medcom.record import resources as of


@pytest.fixture
async def client(make_client: Any) -> Any:
    c = await make_client(**SETTINGS)
    await load(c)
    return c


async def build(client: Any, path: str, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        f"{path}/$medcom-carecommunication", json=parameters(**{**ASK, **extra})
    )
    assert response.status_code == 200, response.text
    return response.json()


def assert_well_formed(bundle: dict[str, Any]) -> None:
    """What every outbound message must show: the message profile, the header first with the
    versioned definition, Danish narrative with the id on every resource, every reference
    resolved inside the Bundle, organizations by SOR and EAN (https GLN system)."""
    assert bundle["type"] == "message" and bundle["meta"]["profile"] == [CC_MESSAGE]
    assert [i for _, i in validation_issues(bundle, [CC_MESSAGE]) if i.severity == "error"] == []
    header = bundle["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    assert header["definition"] == CC_DEFINITION
    assert header["destination"][0]["endpoint"].endswith(RECEIVER_SOR)
    assert header["source"]["endpoint"].endswith(SENDER_SOR)
    present = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    for entry in bundle["entry"]:
        r = entry["resource"]
        assert entry["fullUrl"].endswith(f"/{r['resourceType']}/{r['id']}")
        assert r["text"]["status"] == "generated"
        assert r["id"] in r["text"]["div"]
        assert " / " in r["text"]["div"]  # Danish / English labels
        for ref in re.findall(r'"reference": "([^"]+)"', str(r).replace("'", '"')):
            if not ref.startswith("MessageHeader/") or ref == f"MessageHeader/{header['id']}":
                assert ref in present, ref
    for org in of(bundle, "Organization"):
        systems = {i["system"] for i in org["identifier"]}
        assert systems == {GLN, "urn:oid:1.2.208.176.1.1"}


async def test_a_care_plan_is_rendered_as_carecoordination(client: Any) -> None:
    bundle = await build(client, "CarePlan/plan", text="Til orientering.")
    assert_well_formed(bundle)
    (comm,) = of(bundle, "Communication")
    assert comm["category"][0]["coding"][0]["code"] == "carecoordination"
    text = comm["payload"][-1]["contentString"]
    assert text.startswith("Til orientering.")
    assert "Forebyggende sygebesøg" in text and "Besøg i hjemmet" in text
    assert "priority" not in comm
    (prov,) = of(bundle, "Provenance")
    assert prov["activity"]["coding"][0]["code"] == "new-message"
    segment = comm["payload"][-1]["extension"][1]["valueIdentifier"]["value"]
    assert prov["entity"] == [{"role": "source", "what": {"identifier": {"value": segment}}}]
    (role,) = of(bundle, "PractitionerRole")
    phone = comm["payload"][-1]["extension"][3]["valueContactPoint"]
    assert phone == {"system": "phone", "value": "+4512345678"}
    assert role["code"] == [{"text": "Sygeplejerske"}]
    assert "Forløbskoordinering" in comm["text"]["div"]


async def test_a_referral_carries_its_priority(client: Any) -> None:
    bundle = await build(client, "ServiceRequest/referral")
    assert_well_formed(bundle)
    (comm,) = of(bundle, "Communication")
    assert comm["category"][0]["coding"][0]["code"] == "regarding-referral"
    assert comm["priority"] == "asap"
    assert "Genoptræning efter udskrivelse" in comm["payload"][0]["contentString"]


async def test_a_priority_outside_a_referral_is_refused(client: Any) -> None:
    response = await client.post(
        "ServiceRequest/referral/$medcom-carecommunication",
        json=parameters(**ASK, category="nursing"),
    )
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["priority"]


async def test_the_medication_list_shows_current_medication_and_what_changed_why(
    client: Any,
) -> None:
    for path, extra in (
        ("MedicationStatement/ms-current", {}),
        ("MedicationStatement", {"patient": "Patient/bruno"}),
    ):
        bundle = await build(client, path, **extra)
        assert_well_formed(bundle)
        (comm,) = of(bundle, "Communication")
        assert comm["category"][0]["coding"][0]["code"] == "medicine"
        text = comm["payload"][0]["contentString"]
        current, changes = text.split("Ændringer:")
        assert "Furosemid 40 mg, 1 tablet morgen" in current
        assert "Ibuprofen 400 mg: stopped, årsag: nyrefunktion nedsat" in changes


async def test_a_care_team_is_rendered(client: Any) -> None:
    bundle = await build(client, "CareTeam/team")
    assert_well_formed(bundle)
    (comm,) = of(bundle, "Communication")
    assert "Team Bruno" in comm["payload"][0]["contentString"]
    assert "Mette Hansen" in comm["payload"][0]["contentString"]


async def test_a_clinicians_communication_new_then_reply_keeps_the_thread(client: Any) -> None:
    first = await build(client, "Communication/note")
    assert_well_formed(first)
    (comm,) = of(first, "Communication")
    assert comm["id"] == "note"
    assert comm["category"][0]["coding"][0]["code"] == "nursing"
    assert comm["payload"][0]["contentString"].startswith("Bruno er faldet")
    # the note is sent: the record then knows its thread and message
    response = await client.post(
        "Communication/note/$medcom-carecommunication", json=parameters(**ASK, send=True)
    )
    assert response.status_code == 200, response.text
    sent = response.json()
    thread = of(sent, "Communication")[0]["identifier"][0]["value"]
    answer = {
        "resourceType": "Communication",
        "id": "answer",
        "status": "completed",
        "subject": {"reference": "Patient/bruno"},
        "inResponseTo": [{"reference": "Communication/note"}],
        "category": comm["category"],
        "payload": [{"contentString": "Tak, vi kommer kl. 10."}],
    }
    assert (await client.put("Communication/answer", json=answer)).status_code == 201
    reply = await build(client, "Communication/answer")
    assert_well_formed(reply)
    (rc,) = of(reply, "Communication")
    assert rc["identifier"][0]["value"] == thread
    assert [p["contentString"] for p in rc["payload"]] == [
        "Bruno er faldet i hjemmet.\nVi ser til ham i morgen.",
        "Tak, vi kommer kl. 10.",
    ]
    provenances = of(reply, "Provenance")
    assert len(provenances) == 2  # the thread's history, then this message's own
    own = provenances[-1]
    assert own["activity"]["coding"][0]["code"] == "reply-message"
    sent_header = sent["entry"][0]["resource"]["id"]
    assert own["entity"][0] == {
        "role": "revision",
        "what": {"reference": f"MessageHeader/{sent_header}"},
    }
    forward = await build(client, "Communication/answer", activity="forward")
    (fc,) = of(forward, "Communication")
    assert fc["identifier"][0]["value"] != thread
    assert of(forward, "Provenance")[-1]["activity"]["coding"][0]["code"] == "forward-message"


async def test_a_replacement_cpr_is_sent(client: Any) -> None:
    note = {
        "resourceType": "CarePlan",
        "id": "xplan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/xecpr"},
    }
    assert (await client.put("CarePlan/xplan", json=note)).status_code == 201
    bundle = await build(client, "CarePlan/xplan")
    (patient,) = of(bundle, "Patient")
    assert patient["identifier"][0]["system"] == "urn:oid:1.2.208.176.1.6.1.1"


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"author": "PractitionerRole/silent-role"}, "author"),
        ({"receiver": "Organization/clinic"}, "receiver"),
        ({"receiver": "Organization/nowhere"}, "receiver"),
        ({"category": "gossip"}, "category"),
        ({"category": "other"}, "topic"),
    ],
)
async def test_what_the_record_lacks_is_named(client: Any, extra: dict, where: str) -> None:
    response = await client.post(
        "CarePlan/plan/$medcom-carecommunication", json=parameters(**{**ASK, **extra})
    )
    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["expression"] == [where]


async def test_get_is_refused_and_unknown_types_are_not_routed(client: Any) -> None:
    response = await client.get("CarePlan/plan/$medcom-carecommunication")
    assert response.status_code == 405
    response = await client.post("Observation/x/$medcom-carecommunication", json=parameters())
    assert response.status_code in (400, 404)
