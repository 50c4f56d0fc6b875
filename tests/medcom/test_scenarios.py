"""The seeds' scenarios S1, S4 and S6 (../shared/DOMAIN.md §3) end to end between server
instances of each sector — the municipality's, the GP's and, for S4, the hospital's — with
MedCom messages and their Acknowledgements, in process (ASGI), on both stores.

Each instance holds the shared record of tests/medcom/record.py plus what the scenario needs
(`SCENARIO`): the GP clinic and the municipal acute function with SOR and EAN, a role of each
writer, the citizen listed with the GP. Each side is checked as a user sees it: the message the
operation answers validates against its MedCom message profile, the receiver files it where
docs/medcom.md says, the Acknowledgement comes back and the sender's Communication and outbox
Task show it, a reply stays in the thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from fhir_server.write_checks import validation_issues
from medcom.codes import CATEGORY_CODES, CC_MESSAGE, HN_MESSAGE, MESSAGE_HEADER_ID
from medcom.delivery import DeliveryWorker
from tests.api.support import app_of
from tests.medcom.record import CPR, GLN, RECEIVER_SOR, SOR, load, parameters
from tests.medcom.record import resources as of
from tests.medcom.test_outbox import Clock, state

GP_SOR = "123456789012"
ACUTE_SOR = "325421000016001"
MUNICIPALITY = "http://municipality.test/fhir/$process-message"
GP = "http://gp.test/fhir/$process-message"

SCENARIO: list[dict[str, Any]] = [
    {
        "resourceType": "Organization",
        "id": "clinic",
        "name": "Lægehuset",
        "identifier": [
            {"system": SOR, "value": GP_SOR},
            {"system": GLN, "value": "5790001234560"},
        ],
    },
    {
        "resourceType": "Organization",
        "id": "acute",
        "name": "Akutfunktionen, Aabenraa Kommune",
        "identifier": [
            {"system": SOR, "value": ACUTE_SOR},
            {"system": GLN, "value": "5790007654324"},
        ],
    },
    {
        "resourceType": "Patient",
        "id": "bruno",
        "identifier": [{"system": CPR, "value": "2509479989"}],
        "name": [{"use": "official", "family": "Elmer", "given": ["Bruno"]}],
        "generalPractitioner": [{"reference": "Organization/clinic"}],
    },
    {
        "resourceType": "Practitioner",
        "id": "doctor",
        "name": [{"family": "Larsen", "given": ["Peter"]}],
    },
    {
        "resourceType": "PractitionerRole",
        "id": "gp-doctor",
        "practitioner": {"reference": "Practitioner/doctor"},
        "organization": {"reference": "Organization/clinic"},
        "code": [{"text": "Praktiserende læge"}],
        "telecom": [{"system": "phone", "value": "+4570112233"}],
    },
    {
        "resourceType": "PractitionerRole",
        "id": "home-nurse",
        "practitioner": {"reference": "Practitioner/nurse"},
        "organization": {"reference": "Organization/homecare"},
        "code": [{"text": "Hjemmesygeplejerske"}],
        "telecom": [{"system": "phone", "value": "+4587654321"}],
    },
    {
        "resourceType": "PractitionerRole",
        "id": "acute-nurse",
        "practitioner": {"reference": "Practitioner/nurse"},
        "organization": {"reference": "Organization/acute"},
        "code": [{"text": "Akutsygeplejerske"}],
        "telecom": [{"system": "phone", "value": "+4587650000"}],
    },
]


TEAM = {
    "resourceType": "CareTeam",
    "id": "team",
    "status": "active",
    "name": "Team Bruno",
    "subject": {"reference": "Patient/bruno"},
    "managingOrganization": [{"reference": "Organization/homecare"}],
    "participant": [{"member": {"reference": "Practitioner/nurse", "display": "Mette Hansen"}}],
}
"""The municipality's care team for Bruno (S4): the municipality serves him; told by a Task."""


class Sectors(httpx.AsyncBaseTransport):
    """The network between the instances: each endpoint's host is one server's ASGI app."""

    def __init__(self, **servers: httpx.AsyncClient) -> None:
        self.routes: dict[str, httpx.ASGITransport] = {}
        for host, client in servers.items():
            app: Any = app_of(client)  # an ASGI app (ServerApp's __call__ is loosely typed)
            self.routes[f"{host}.test"] = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.routes[request.url.host].handle_async_request(request)


async def server(make_client: Any, sender: str, endpoints: dict[str, str]) -> httpx.AsyncClient:
    """One sector's server: its own organization ``sender``, its partners' endpoints."""
    client: httpx.AsyncClient = await make_client(
        medcom_sender=sender, medcom_endpoints=endpoints, medcom_poll_seconds=3600
    )
    await load(client)
    for r in SCENARIO:
        response = await client.put(f"{r['resourceType']}/{r['id']}", json=r)
        assert response.status_code in (200, 201), response.text
    return client


async def deliver(sender: httpx.AsyncClient, network: Sectors) -> None:
    """One round of ``sender``'s delivery worker (what its poll would do)."""
    app = app_of(sender)
    await DeliveryWorker(app.store, app.settings, app.services, Clock(), network).run_once()


async def operation(client: httpx.AsyncClient, path: str, **inputs: Any) -> dict[str, Any]:
    response = await client.post(path, json=parameters(**inputs, send=True))
    assert response.status_code == 200, response.text
    return response.json()


def valid(message: dict[str, Any], profile: str) -> None:
    assert message["meta"]["profile"] == [profile]
    assert [i for _, i in validation_issues(message, [profile]) if i.severity == "error"] == []


def header_id(message: dict[str, Any]) -> str:
    return str(message["entry"][0]["resource"]["id"])


def thread(message: dict[str, Any]) -> str:
    (comm,) = of(message, "Communication")
    return str(comm["identifier"][0]["value"])


async def acknowledged(client: httpx.AsyncClient, message: dict[str, Any]) -> None:
    """The sender sees the Acknowledgement: ok on the outbox Task, acknowledged on the
    Communication (or, for a HospitalNotification, on the Task alone)."""
    task = (await client.get(f"Task/{header_id(message)}")).json()
    assert task["status"] == "completed", task
    codes = [o["valueCode"] for o in task["output"] if o["type"]["text"] == "acknowledgement"]
    assert codes == ["ok"]
    if of(message, "Communication"):
        assert await state(client, message) == ("completed", "acknowledged", "completed")


async def filed(client: httpx.AsyncClient, message: dict[str, Any]) -> dict[str, Any]:
    """The Communication the receiver filed the CareCommunication ``message`` as."""
    found = (
        await client.get(
            "Communication", params={"identifier": f"{MESSAGE_HEADER_ID}|{header_id(message)}"}
        )
    ).json()
    (comm,) = [e["resource"] for e in found.get("entry", [])]
    return comm


def category(comm: dict[str, Any]) -> str:
    (code,) = [c["code"] for c in comm["category"][0]["coding"] if c["system"] == CATEGORY_CODES]
    return str(code)


def texts(comm: dict[str, Any]) -> str:
    return "\n".join(p.get("contentString", "") for p in comm["payload"])


async def reply(
    client: httpx.AsyncClient, id_: str, answered: str, text: str, receiver: str, author: str
) -> dict[str, Any]:
    """A clinician answers ``answered`` with a Communication and sends it (a reply-message)."""
    answer = {
        "resourceType": "Communication",
        "id": id_,
        "status": "completed",
        "subject": {"reference": "Patient/bruno"},
        "inResponseTo": [{"reference": f"Communication/{answered}"}],
        "payload": [{"contentString": text}],
    }
    assert (await client.put(f"Communication/{id_}", json=answer)).status_code == 201
    message = await operation(
        client,
        f"Communication/{id_}/$medcom-carecommunication",
        receiver=receiver,
        author=author,
    )
    valid(message, CC_MESSAGE)
    (provenance,) = [
        p
        for p in of(message, "Provenance")
        if p["target"] == [{"reference": f"MessageHeader/{header_id(message)}"}]
    ]
    assert provenance["activity"]["coding"][0]["code"] == "reply-message"
    return message


@dataclass
class Referral:
    """A request sent from one sector's server and filed by the other's."""

    sender: httpx.AsyncClient
    receiver: httpx.AsyncClient
    network: Sectors
    message: dict[str, Any]
    sent: dict[str, Any]
    """The message's Communication (the sender's record has it under the same id)."""
    filed: dict[str, Any]
    """The Communication the receiver filed it as."""


async def s1_visit_asked(make_client: Any) -> Referral:
    """S1's request: the home nurse asks the citizen's GP for a preventive sick visit (a
    ServiceRequest, sent as a `regarding-referral` CareCommunication); the GP's server files it
    and acknowledges."""
    municipality = await server(make_client, "homecare", {GP_SOR: GP})
    gp = await server(make_client, "clinic", {RECEIVER_SOR: MUNICIPALITY})
    network = Sectors(municipality=municipality, gp=gp)
    request = {
        "resourceType": "ServiceRequest",
        "id": "visit",
        "status": "active",
        "intent": "order",
        "priority": "routine",
        "code": {"text": "Forebyggende sygebesøg"},
        "subject": {"reference": "Patient/bruno"},
        "requester": {"reference": "PractitionerRole/home-nurse"},
        "performer": [{"reference": "Organization/clinic"}],
    }
    assert (await municipality.put("ServiceRequest/visit", json=request)).status_code == 201
    asked = await operation(
        municipality,
        "ServiceRequest/visit/$medcom-carecommunication",
        receiver="Organization/clinic",
        author="PractitionerRole/home-nurse",
        text="Bruno er svimmel og har tabt sig. Vi beder om et forebyggende sygebesøg.",
    )
    valid(asked, CC_MESSAGE)
    (sent,) = of(asked, "Communication")
    assert sent["priority"] == "routine"
    assert await state(municipality, asked) == ("requested", "queued", "preparation")

    await deliver(municipality, network)
    await acknowledged(municipality, asked)
    request_at_gp = await filed(gp, asked)
    assert request_at_gp["subject"] == {"reference": "Patient/bruno"}
    assert category(request_at_gp) == "regarding-referral"
    assert request_at_gp["priority"] == "routine"
    assert {"reference": "Organization/clinic"} in request_at_gp["recipient"]
    assert request_at_gp["identifier"][0]["value"] == thread(asked)
    assert "Forebyggende sygebesøg" in texts(request_at_gp)
    assert "tabt sig" in texts(request_at_gp)
    return Referral(municipality, gp, network, asked, sent, request_at_gp)


async def test_s1_the_visit_request_reaches_the_gp(make_client: Any) -> None:
    await s1_visit_asked(make_client)


async def test_s1_the_gp_answers_the_preventive_sick_visit_request(make_client: Any) -> None:
    """S1: no nurse can attend, so the GP answers the request with a CareCommunication that the
    municipality files in the same thread, linked to its request."""
    asked = await s1_visit_asked(make_client)
    municipality, gp, network = asked.sender, asked.receiver, asked.network
    request_at_gp, sent = asked.filed, asked.sent
    answer = await reply(
        gp,
        "no-nurse",
        request_at_gp["id"],
        "Ingen sygeplejerske kan deltage. Jeg kommer selv torsdag kl. 10.",
        "Organization/homecare",
        "PractitionerRole/gp-doctor",
    )
    assert thread(answer) == thread(asked.message)
    await deliver(gp, network)
    await acknowledged(gp, answer)
    answer_at_municipality = await filed(municipality, answer)
    assert answer_at_municipality["inResponseTo"] == [{"reference": f"Communication/{sent['id']}"}]
    assert answer_at_municipality["about"] == [{"reference": "ServiceRequest/visit"}]
    assert answer_at_municipality["subject"] == {"reference": "Patient/bruno"}
    assert thread(asked.message) in [i["value"] for i in answer_at_municipality["identifier"]]
    assert answer_at_municipality["payload"][-1]["contentString"].startswith("Ingen sygeplejer")


async def test_s4_discharge_home_reaches_the_municipality_and_the_gp(make_client: Any) -> None:
    """S4: the hospital's admission and discharge HospitalNotifications reach the municipality
    (whose care team is told by a Task) and the GP; each files one stay, in progress then
    finished; the discharge medication list — current, and what changed and why — goes to the
    municipality as a `medicine` CareCommunication."""
    hospital = await server(make_client, "ward", {RECEIVER_SOR: MUNICIPALITY, GP_SOR: GP})
    municipality = await server(make_client, "homecare", {})
    gp = await server(make_client, "clinic", {})
    network = Sectors(municipality=municipality, gp=gp)
    assert (await municipality.put("CareTeam/team", json=TEAM)).status_code == 200

    notify = "Encounter/stay/$medcom-hospitalnotification"
    admitted = await operation(hospital, notify, receiver="Organization/homecare")
    gp_admitted = await operation(
        hospital, notify, receiver="Organization/clinic", activity="admit-inpatient"
    )
    await deliver(hospital, network)  # days pass: each message is delivered when it is sent
    stay = (await hospital.get("Encounter/stay")).json()
    stay["status"] = "finished"
    stay["period"]["end"] = "2026-12-03T11:00:00+01:00"
    assert (await hospital.put("Encounter/stay", json=stay)).status_code == 200
    discharged = await operation(hospital, notify, receiver="Organization/homecare")
    gp_discharged = await operation(
        hospital, notify, receiver="Organization/clinic", activity="discharge-inpatient-home"
    )
    await deliver(hospital, network)
    medicine = await operation(
        hospital,
        "MedicationStatement/$medcom-carecommunication",
        patient="Patient/bruno",
        receiver="Organization/homecare",
        author="PractitionerRole/nurse-role",
        text="Medicin ved udskrivelse.",
    )
    for message, activity in [
        (admitted, "admit-inpatient"),
        (discharged, "discharge-inpatient-home"),
    ]:
        valid(message, HN_MESSAGE)
        current = [
            p
            for p in of(message, "Provenance")
            if p["target"] == [{"reference": f"MessageHeader/{header_id(message)}"}]
        ]
        assert [p["activity"]["coding"][0]["code"] for p in current] == [activity]
    for message in (gp_admitted, gp_discharged):
        valid(message, HN_MESSAGE)
    valid(medicine, CC_MESSAGE)

    await deliver(hospital, network)
    for message in (admitted, gp_admitted, discharged, gp_discharged, medicine):
        await acknowledged(hospital, message)

    for receiver, organization in ((municipality, "homecare"), (gp, "clinic")):
        found = (await receiver.get("Encounter", params={"subject": "Patient/bruno"})).json()
        stays = [e["resource"] for e in found["entry"] if e["resource"]["id"] != "stay"]
        (filed_stay,) = stays  # one stay: the admission's Encounter, updated by the discharge
        assert filed_stay["status"] == "finished"
        assert filed_stay["class"]["code"] == "IMP"
        assert filed_stay["period"]["end"] == "2026-12-03T11:00:00+01:00"
        assert filed_stay["serviceProvider"] == {"reference": "Organization/ward"}
        history = (await receiver.get(f"Encounter/{filed_stay['id']}/_history")).json()
        statuses = [e["resource"]["status"] for e in history["entry"]]
        assert statuses == ["finished", "in-progress"]  # newest first
        tasks = await receiver.get("Task", params={"focus": f"Encounter/{filed_stay['id']}"})
        told = [e["resource"] for e in tasks.json()["entry"]]
        assert len(told) == 2
        for task in told:
            assert task["owner"] == {"reference": f"Organization/{organization}"}
            assert task["for"] == {"reference": "Patient/bruno"}
            assert task["status"] == "requested"

    medication_at_municipality = await filed(municipality, medicine)
    assert category(medication_at_municipality) == "medicine"
    assert medication_at_municipality["subject"] == {"reference": "Patient/bruno"}
    listed = texts(medication_at_municipality)
    for expected in ("Medicin ved udskrivelse.", "Furosemid 40 mg", "1 tablet morgen"):
        assert expected in listed
    for changed in ("Ibuprofen 400 mg", "nyrefunktion nedsat"):  # what changed and why
        assert changed in listed


async def test_s4_each_receiver_gets_its_own_admission(make_client: Any) -> None:
    """MedCom sends each receiver its own notification sequence: the GP, told after the
    municipality, is told of the admission, not of a correction of one it never got."""
    hospital = await server(make_client, "ward", {RECEIVER_SOR: MUNICIPALITY, GP_SOR: GP})
    notify = "Encounter/stay/$medcom-hospitalnotification"
    await operation(hospital, notify, receiver="Organization/homecare")
    to_gp = await operation(hospital, notify, receiver="Organization/clinic")
    current = [
        p
        for p in of(to_gp, "Provenance")
        if p["target"] == [{"reference": f"MessageHeader/{header_id(to_gp)}"}]
    ]
    assert [p["activity"]["coding"][0]["code"] for p in current] == ["admit-inpatient"]
    assert len(of(to_gp, "Provenance")) == 1


async def s6_referred(make_client: Any) -> Referral:
    """S6's referral: the GP refers the citizen to the municipal acute function (an urgent
    ServiceRequest, sent `regarding-referral` with priority asap); the municipality's server
    files it and acknowledges."""
    gp = await server(make_client, "clinic", {ACUTE_SOR: MUNICIPALITY})
    municipality = await server(make_client, "acute", {GP_SOR: GP})
    network = Sectors(municipality=municipality, gp=gp)
    referral = {
        "resourceType": "ServiceRequest",
        "id": "acute-referral",
        "status": "active",
        "intent": "order",
        "priority": "urgent",
        "code": {"text": "Akutfunktion: observation og væskebehandling i hjemmet"},
        "subject": {"reference": "Patient/bruno"},
        "requester": {"reference": "PractitionerRole/gp-doctor"},
        "performer": [{"reference": "Organization/acute"}],
    }
    assert (await gp.put("ServiceRequest/acute-referral", json=referral)).status_code == 201
    referred = await operation(
        gp,
        "ServiceRequest/acute-referral/$medcom-carecommunication",
        receiver="Organization/acute",
        author="PractitionerRole/gp-doctor",
    )
    valid(referred, CC_MESSAGE)
    (sent,) = of(referred, "Communication")
    assert sent["priority"] == "asap"

    await deliver(gp, network)
    await acknowledged(gp, referred)
    at_acute = await filed(municipality, referred)
    assert category(at_acute) == "regarding-referral"
    assert at_acute["priority"] == "asap"
    assert {"reference": "Organization/acute"} in at_acute["recipient"]
    assert "væskebehandling" in texts(at_acute)

    return Referral(gp, municipality, network, referred, sent, at_acute)


async def test_s6_the_referral_reaches_the_acute_function(make_client: Any) -> None:
    await s6_referred(make_client)


async def test_s6_results_and_the_end_of_the_course_go_back_to_the_gp(make_client: Any) -> None:
    """S6: the acute function's results and, later, the end of the course go back to the GP as
    replies in the same thread, each filed by the GP's server as an answer to the one before
    and linked to its referral."""
    referral = await s6_referred(make_client)
    gp, municipality, network = referral.sender, referral.receiver, referral.network
    referred, sent, at_acute = referral.message, referral.sent, referral.filed
    results = await reply(
        municipality,
        "results",
        at_acute["id"],
        "Blodtryk 110/70, temperatur 37,2. Væske givet.",
        "Organization/clinic",
        "PractitionerRole/acute-nurse",
    )
    await deliver(municipality, network)
    await acknowledged(municipality, results)
    results_at_gp = await filed(gp, results)
    assert results_at_gp["inResponseTo"] == [{"reference": f"Communication/{sent['id']}"}]
    assert results_at_gp["about"] == [{"reference": "ServiceRequest/acute-referral"}]

    ended = await reply(
        municipality,
        "course-ended",
        "results",
        "Forløbet i akutfunktionen er afsluttet.",
        "Organization/clinic",
        "PractitionerRole/acute-nurse",
    )
    assert thread(ended) == thread(results) == thread(referred)
    await deliver(municipality, network)
    await acknowledged(municipality, ended)
    ended_at_gp = await filed(gp, ended)
    assert ended_at_gp["inResponseTo"] == [{"reference": f"Communication/{results_at_gp['id']}"}]
    assert ended_at_gp["about"] == [{"reference": "ServiceRequest/acute-referral"}]
    assert thread(referred) in [i["value"] for i in ended_at_gp["identifier"]]
    assert ended_at_gp["payload"][-1]["contentString"] == "Forløbet i akutfunktionen er afsluttet."
    assert "Væske givet." in texts(ended_at_gp)  # the thread's earlier segments carried
