"""S4 Discharge home.

The admission and discharge (MedCom HospitalNotification) end as a finished inpatient Encounter;
the discharge medication list says what changed and why; the plan has a follow-up home visit by
the GP and the home nurse; the hospital hands a task to the GP, who must accept it, and asks the
municipality for home nursing.
"""

from __future__ import annotations

from dataset import codes as c
from dataset.build import Json, coding, concept, ref_of
from dataset.scenarios import events, people, plans, records, requests
from dataset.scenarios.scene import Person, Scene


def build(scene: Scene, person: Person) -> None:
    home, rng = scene.home, scene.rng
    diagnosis = rng.choice(c.ADMISSION)
    fracture = diagnosis.code == "DS720"
    ward = home.region.orthopaedic if fracture else home.region.medical
    doctor, ward_nurse = ward.of("doctor", rng), ward.of("nurse")
    home_nurse = home.municipality.home_nursing.of("nurse")
    gp_doctor = home.gp.of("doctor", rng)
    subject = ref_of(people.patient(scene, "citizen", person))
    admitted = -rng.randrange(6, 40)
    discharged = admitted + rng.randrange(2, 12)
    problem = records.condition(scene, "condition", subject, diagnosis, doctor.ref(), admitted)
    stay = events.encounter(
        scene, "admission", subject, "IMP", f"Indlæggelse på {ward.name}",
        (scene.at(admitted, 8, 40), scene.at(discharged, 13)), ward.ref(), [doctor.ref()],
        diagnosis=[{"condition": ref_of(problem, diagnosis.text), "rank": 1}],
        hospitalization={
            "dischargeDisposition": concept(
                "Udskrevet til eget hjem", coding(c.DISCHARGE_DISPOSITION, "home")
            )
        },
    )  # fmt: skip
    stay_ref = ref_of(stay, "Indlæggelse")
    _discharge_medication(scene, subject, stay_ref, doctor.ref(), discharged, fracture)
    team = plans.careteam(
        scene, "careteam", subject, f"Udskrivelsesteam for {person.name.text}", ward.ref(),
        [
            (("general-practitioner", "patient-responsible-doctor"), gp_doctor.ref()),
            (("member",), doctor.ref()),
            (("contact-person",), ward_nurse.ref()),
            (("coordinator",), home_nurse.ref()),
        ],
        discharged - 1,
    )  # fmt: skip
    visit = "Opfølgende hjemmebesøg ved egen læge og hjemmesygeplejerske inden for 7 dage"
    activities = [
        plans.activity(visit, "scheduled", [gp_doctor.ref(), home_nurse.ref()],
                       scene.day(discharged + 5)),
        plans.activity("Medicingennemgang efter udskrivelse", "not-started", [gp_doctor.ref()]),
        plans.activity("Hjemmesygepleje: medicindispensering og observation", "in-progress",
                       [home_nurse.ref()], "Dagligt"),
    ]  # fmt: skip
    if fracture:
        activities.append(
            plans.activity("Genoptræning efter sygehusophold", "scheduled",
                           [home.municipality.org.ref()], "2 gange ugentligt i 8 uger")
        )  # fmt: skip
    plan = plans.careplan(
        scene, "careplan", subject, "Opfølgning efter udskrivelse",
        ["discharge-follow-up", "cross-sector-course"], ref_of(team), ward_nurse.ref(),
        activities, discharged - 1, addresses=[ref_of(problem, diagnosis.text)],
        description=f"Egen læge har det lægelige ansvar fra udskrivelsen {scene.day(discharged)}.",
    )  # fmt: skip
    requests.task(
        scene, "handover-task", subject, ref_of(plan),
        "Overdragelse til egen læge: blodprøve (nyretal) om en uge og stillingtagen til "
        "pauseret medicin", doctor.ref(), gp_doctor.ref(),
        rng.choice(("requested", "requested", "accepted")), scene.at(discharged, 12),
    )  # fmt: skip
    nursing = requests.service_request(
        scene, "home-nursing-request", subject, c.HOME_NURSING,
        "Hjemmesygepleje efter udskrivelse: medicindispensering og observation",
        ward_nurse.ref(), home.municipality.home_nursing.ref(), rng.choice(("routine", "asap")),
        scene.at(discharged - 1, 11), reasonReference=[ref_of(problem, diagnosis.text)],
        basedOn=[ref_of(plan)], occurrenceDateTime=scene.at(discharged, 18),
    )  # fmt: skip
    requests.handed_over(
        scene, "home-nursing-task", nursing, "Hjemmesygeplejen overtager efter udskrivelsen"
    )


def _discharge_medication(
    scene: Scene, subject: Json, stay: Json, doctor: Json, day: int, fracture: bool
) -> None:
    rng = scene.rng
    new = c.MAINTENANCE[-1] if fracture else rng.choice(c.ORAL_ANTIBIOTICS)
    reason = "Smertebehandling efter brud" if fracture else "Behandling af infektionen"
    lines: list[tuple[c.Drug, str, str | None]] = [(new, "new", reason)]
    lines.append((c.MAINTENANCE[0], "changed", "Dosis nedsat pga. lavt blodtryk og dehydrering"))
    lines.append((c.PAINKILLER_TO_STOP, "discontinued", "Seponeret pga. påvirket nyrefunktion"))
    if scene.chance(0.6):
        lines.append((c.MAINTENANCE[1], "paused", "Pauseret til nyretal er kontrolleret"))
    for drug in rng.sample(c.MAINTENANCE[2:-1], rng.randint(1, 2)):
        lines.append((drug, "unchanged", None))
    for i, (drug, change, why) in enumerate(lines, 1):
        dosage = drug.dosages[-1] if change == "changed" else None
        records.medication(
            scene, f"medication-{i}", subject, drug, doctor, day, change, why, stay, dosage
        )
