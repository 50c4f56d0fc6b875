"""S1 Preventive sick visit (forebyggende sygebesøg).

The municipality's acute function or home nursing asks the citizen's GP for a visit; the GP
accepts (Task), visits (Encounter), reviews the medication (each line with its information
source and what changed), assesses blood pressure and functional level, may ask the municipality
for services, and — since no municipal nurse could attend — sends a CareCommunication back.
"""

from __future__ import annotations

from dataset import codes as c
from dataset.build import Json, concept, ref_of
from dataset.scenarios import events, people, records, requests
from dataset.scenarios.scene import Person, Scene

REASONS = (
    "Borgeren er faldet to gange den seneste måned og spiser mindre.",
    "Borgeren virker mere forvirret og har tabt sig 4 kg på to måneder.",
    "Hjemmeplejen ser hævede ben og tiltagende åndenød ved gang.",
)
FUNCTION = (
    "Let nedsat: klarer personlig pleje, har brug for hjælp til rengøring og indkøb.",
    "Moderat nedsat: har brug for hjælp til bad og påklædning om morgenen.",
    "Uændret: klarer sig selv med rollator.",
)
COORDINATION = c.medcom_category("carecoordination", "Koordinering")
SERVICES = (
    (c.HOME_CARE, "Praktisk hjælp til rengøring og indkøb"),
    (c.REHABILITATION, "Hverdagsrehabilitering: gangtræning og faldforebyggelse"),
    (c.HOME_NURSING, "Hjemmesygepleje: medicindispensering og vægtkontrol"),
)


def build(scene: Scene, person: Person) -> None:
    home, rng = scene.home, scene.rng
    municipal = rng.choice((home.municipality.acute, home.municipality.home_nursing))
    nurse = municipal.of("nurse", rng)
    gp_doctor = home.gp.of("doctor", rng)
    pat = people.patient(scene, "citizen", person, "Bor alene i eget hjem.")
    subject = ref_of(pat)
    problems = [
        records.condition(
            scene, f"condition-{i}", subject, d, gp_doctor.ref(), -rng.randrange(400, 4000),
            "problem-list-item",
        )
        for i, d in enumerate(rng.sample(c.CHRONIC, rng.randint(1, 2)), 1)
    ]  # fmt: skip
    asked = -rng.randrange(10, 60)
    visit = asked + rng.randrange(2, 8)
    request = requests.service_request(
        scene, "visit-request", subject, c.PREVENTION, "Forebyggende sygebesøg", nurse.ref(),
        home.gp.ref(), rng.choice(("asap", "routine")), scene.at(asked, 9, 30), "completed",
        reasonReference=[ref_of(p) for p in problems],
        note=[{"text": rng.choice(REASONS)}],
    )  # fmt: skip
    requests.task(
        scene, "visit-task", subject, ref_of(request, "Forebyggende sygebesøg"),
        "Egen læge accepterer anmodningen om forebyggende sygebesøg", nurse.ref(),
        gp_doctor.ref(), "completed", scene.at(asked, 14),
        executionPeriod={"start": scene.at(visit, 10), "end": scene.at(visit, 11)},
    )  # fmt: skip
    contact = events.encounter(
        scene, "visit", subject, "HH", "Forebyggende sygebesøg",
        (scene.at(visit, 10), scene.at(visit, 11)), home.gp.ref(), [gp_doctor.ref()],
        basedOn=[ref_of(request, "Forebyggende sygebesøg")],
    )  # fmt: skip
    visit_ref = ref_of(contact, "Forebyggende sygebesøg")
    _assessments(scene, subject, visit_ref, gp_doctor.ref(), scene.at(visit, 10, 30))
    _medication_review(scene, subject, visit_ref, gp_doctor.ref(), visit)
    if scene.chance(0.7):
        category, what = rng.choice(SERVICES)
        services = requests.service_request(
            scene, "services-request", subject, category, what, gp_doctor.ref(),
            home.municipality.org.ref(), "routine", scene.at(visit, 13),
            reasonReference=[ref_of(problems[0])],
        )  # fmt: skip
        requests.handed_over(scene, "services-task", services, f"Kommunen tager stilling: {what}")
    if scene.chance(0.6):
        requests.communication(
            scene, "care-communication", subject, COORDINATION, gp_doctor.ref(), municipal.ref(),
            "Forebyggende sygebesøg gennemført uden deltagelse af kommunal sygeplejerske. "
            "Medicinen er gennemgået, se medicinlisten; se også vurdering af funktionsevne.",
            scene.at(visit, 15), basedOn=[ref_of(request, "Forebyggende sygebesøg")],
            encounter=visit_ref,
        )  # fmt: skip


def _assessments(scene: Scene, subject: Json, visit: Json, by: Json, when: str) -> None:
    rng = scene.rng
    events.observation(
        scene, "blood-pressure", subject, events.BLOOD_PRESSURE, when, by, "vital-signs", visit,
        **events.blood_pressure(rng.randrange(110, 170), rng.randrange(60, 95)),
    )  # fmt: skip
    events.observation(
        scene, "functional-level", subject, events.FUNCTIONAL_LEVEL, when, by, "survey", visit,
        valueCodeableConcept=concept(rng.choice(FUNCTION)),
    )  # fmt: skip


def _medication_review(scene: Scene, subject: Json, visit: Json, by: Json, day: int) -> None:
    rng = scene.rng
    drugs = rng.sample(c.MAINTENANCE, rng.randint(2, 4))
    for i, drug in enumerate(drugs, 1):
        changed = i == 1 and len(drug.dosages) > 1
        records.medication(
            scene, f"medication-{i}", subject, drug, by, day,
            "changed" if changed else "unchanged",
            "Dosis justeret ved medicingennemgang" if changed else None,
            visit, drug.dosages[1] if changed else None,
        )  # fmt: skip
    records.medication(
        scene, f"medication-{len(drugs) + 1}", subject, c.SLEEPING_PILL, by, day, "discontinued",
        "Seponeret pga. faldrisiko", visit,
    )  # fmt: skip
