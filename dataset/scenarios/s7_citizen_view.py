"""S7 The citizen's view.

An elderly citizen with dementia and her daughter, who holds a power of attorney: the data a
citizen (or proxy) reads — own plan, team, goals, medication, open requests — and the consent
that lets the daughter read it. (Who looked at the data is the server's audit log, not data.)
"""

from __future__ import annotations

from dataset import codes as c
from dataset.build import coding, ref_of
from dataset.scenarios import people, plans, records, requests
from dataset.scenarios.scene import Person, Scene

OWN_GOALS = ("Blive boende i mit eget hjem", "Gå en tur i haven hver dag")
DAUGHTER_GOALS = ("At mor har faste rutiner og føler sig tryg", "At mor spiser varm mad hver dag")


def build(scene: Scene, person: Person) -> None:
    home, rng = scene.home, scene.rng
    m, clinic = home.municipality, home.region.memory_clinic
    gp_doctor = home.gp.of("doctor", rng)
    coordinator = m.home_nursing.titled("Demenskoordinator")
    home_nurse = m.home_nursing.of("nurse")
    specialist = clinic.of("doctor")
    subject = ref_of(people.patient(scene, "citizen", person, "Har demens; datteren har fuldmagt."))
    daughter = people.related_person(
        scene, "daughter", scene.person((40, 60), True), subject, "Datter med fuldmagt",
        coding(c.ROLE_CODE, "DAUC"), coding(c.ROLE_CODE, "POWATT"),
    )  # fmt: skip
    daughter_ref = ref_of(daughter)
    diagnosis = rng.choice(c.DEMENTIA)
    start = -rng.randrange(30, 400)
    problem = records.condition(
        scene, "condition", subject, diagnosis, specialist.ref(), start - 60
    )
    team = plans.careteam(
        scene, "careteam", subject, f"Fælles forløb for {person.name.text}",
        m.home_nursing.ref(),
        [
            (("general-practitioner", "patient-responsible-doctor"), gp_doctor.ref()),
            (("coordinator",), coordinator.ref()),
            (("member",), home_nurse.ref()),
            (("member",), specialist.ref()),
            (("relative", "contact-person"), daughter_ref),
        ],
        start,
    )  # fmt: skip
    goals = [
        plans.goal(scene, "goal-own", subject, rng.choice(OWN_GOALS), subject, start),
        plans.goal(
            scene, "goal-daughter", subject, rng.choice(DAUGHTER_GOALS), daughter_ref, start
        ),
    ]
    plans.careplan(
        scene, "careplan", subject, f"Fælles plan for {person.name.text}",
        ["cross-sector-course"], ref_of(team), coordinator.ref(),
        [
            plans.activity("Besøg af demenskoordinator", "in-progress", [coordinator.ref()],
                           "Hver 3. uge"),
            plans.activity("Medicindispensering og observation af trivsel", "in-progress",
                           [home_nurse.ref()], "Dagligt"),
            plans.activity("Årskontrol og medicingennemgang hos egen læge", "scheduled",
                           [gp_doctor.ref()], scene.day(rng.randrange(10, 90))),
            plans.activity("Kontrol i hukommelsesklinikken", "not-started", [specialist.ref()]),
            plans.activity("Datteren følger med til lægebesøg", "in-progress", [daughter_ref]),
        ],
        start, goals=[ref_of(g, g["description"]["text"]) for g in goals],
        addresses=[ref_of(problem, diagnosis.text)],
    )  # fmt: skip
    lines = [(rng.choice(c.DEMENTIA_DRUGS), "unchanged")]
    lines += [(drug, "unchanged") for drug in rng.sample(c.MAINTENANCE, rng.randint(1, 3))]
    for i, (drug, change) in enumerate(lines, 1):
        records.medication(scene, f"medication-{i}", subject, drug, gp_doctor.ref(), start, change)
    referral = requests.service_request(
        scene, "memory-clinic-request", subject, c.REFERRAL,
        "Kontrol i hukommelsesklinikken", gp_doctor.ref(), clinic.ref(), "routine",
        scene.at(-rng.randrange(1, 20), 11),
        reasonReference=[ref_of(problem, diagnosis.text)],
    )  # fmt: skip
    requests.handed_over(scene, "memory-clinic-task", referral, "Hukommelsesklinikken indkalder")
    signed = -rng.randrange(5, 300)  # a disclosure consent lasts at most a year
    plans.consent(
        scene, "consent", subject, "disclosure-permit", [subject], [daughter_ref], signed,
        signed + 365,
        "Borgerens samtykke: datteren (fuldmagt) må se plan, team, mål, medicin og anmodninger.",
        ("CarePlan", "CareTeam", "Goal", "MedicationStatement", "ServiceRequest"),
    )  # fmt: skip
