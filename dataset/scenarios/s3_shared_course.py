"""S3 One citizen - one shared course (adult with severe mental illness).

The CareTeam has a coordinator the citizen chose (the social psychiatry support worker or the
outreach nurse), the citizen's own goals (Goal.expressedBy the Patient), activities per party,
a positive consent for the non-health members and, often, a block ('spærring') of a named
clinician, a treatment site or the data of a period.
"""

from __future__ import annotations

from dataset import codes as c
from dataset.build import Json, coding, label, period, ref_of
from dataset.scenarios import events, people, plans, records
from dataset.scenarios.scene import Person, Scene

OWN_GOALS = (
    "Bo i min egen lejlighed med støtte",
    "Komme i praktik i en butik",
    "Sove bedre og høre færre stemmer",
    "Genoptage kontakten til min søn",
    "Gå til fodbold en gang om ugen",
)


def build(scene: Scene, person: Person) -> None:
    home, rng = scene.home, scene.rng
    region, m = home.region, home.municipality
    psychiatrist, outreach_nurse = region.outreach.of("doctor"), region.outreach.of("nurse")
    support, job = m.social_psychiatry.of("support-worker"), m.job_centre.of("caseworker")
    gp_doctor = home.gp.of("doctor", rng)
    pat = people.patient(scene, "citizen", person)
    subject = ref_of(pat)
    sister = people.related_person(
        scene, "sister", scene.person((20, 70), True), subject, "Søster",
        coding(c.ROLE_CODE, "SIB"),
    )  # fmt: skip
    diagnosis = rng.choice(c.SEVERE_MENTAL_ILLNESS)
    start = -rng.randrange(20, 200)
    problem = records.condition(
        scene, "condition", subject, diagnosis, psychiatrist.ref(), -rng.randrange(700, 5000)
    )
    label(problem, c.PSYCHIATRY)
    coordinator = rng.choice((support, outreach_nurse))
    other = outreach_nurse if coordinator is support else support
    team = plans.careteam(
        scene, "careteam", subject, f"Ét fælles forløb for {person.name.text}",
        region.outreach.ref(),
        [
            (("coordinator",), coordinator.ref()),
            (("patient-responsible-doctor",), psychiatrist.ref()),
            (("member",), other.ref()),
            (("contact-person",), job.ref()),
            (("general-practitioner",), gp_doctor.ref()),
            (("relative",), ref_of(sister)),
            (("member",), subject),
        ],
        start,
    )  # fmt: skip
    goals = [
        plans.goal(scene, f"goal-{i}", subject, text, subject, start)
        for i, text in enumerate(rng.sample(OWN_GOALS, rng.randint(2, 3)), 1)
    ]
    plans.careplan(
        scene, "careplan", subject, f"Fælles handleplan for {person.name.text}",
        ["severe-mental-illness", "cross-sector-course"], ref_of(team), coordinator.ref(),
        [
            plans.activity("Ambulant psykiatrisk behandling og medicinjustering", "in-progress",
                           [psychiatrist.ref()], "Hver 4. uge"),
            plans.activity("Hjemmebesøg af opsøgende team", "in-progress",
                           [outreach_nurse.ref()], "Ugentligt"),
            plans.activity("Bostøtte: økonomi, indkøb og struktur i hverdagen", "in-progress",
                           [support.ref()], "3 timer om ugen"),
            plans.activity("Afklaringsforløb og virksomhedspraktik", "scheduled", [job.ref()]),
            plans.activity("Årligt somatisk helbredstjek (vægt, blodtryk, blodsukker)",
                           "not-started", [gp_doctor.ref()]),
            plans.activity("Jeg fører dagbog over søvn og humør", "in-progress", [subject]),
        ],
        start, goals=[ref_of(g, g["description"]["text"]) for g in goals],
        addresses=[ref_of(problem, diagnosis.text)],
        description=f"Tovholder valgt af borgeren: {coordinator.display}.",
    )  # fmt: skip
    drug = rng.choice(c.ANTIPSYCHOTICS)
    label(
        records.medication(
            scene, "medication", subject, drug, psychiatrist.ref(), start, "unchanged"
        ),
        c.PSYCHIATRY,
    )
    visit = events.encounter(
        scene, "outreach-visit", subject, "HH", "Hjemmebesøg af opsøgende psykoseteam",
        (scene.at(start + 7, 10), scene.at(start + 7, 11)), region.outreach.ref(),
        [outreach_nurse.ref()], diagnosis=[{"condition": ref_of(problem, diagnosis.text)}],
    )  # fmt: skip
    weight = events.observation(
        scene, "weight", subject, events.BODY_WEIGHT, scene.at(start + 7, 10, 30),
        outreach_nurse.ref(), "vital-signs", ref_of(visit, "Hjemmebesøg"),
        valueQuantity=events.quantity(rng.randrange(600, 1200) / 10, "kg", "kg"),
    )  # fmt: skip
    for psychiatric in (visit, weight):
        label(psychiatric, c.PSYCHIATRY)
    plans.consent(
        scene, "consent", subject, "disclosure-permit", [subject],
        [m.social_psychiatry.ref(), m.job_centre.ref()], start, start + 365,
        "Borgerens samtykke: Socialpsykiatrien og Jobcentret må se handleplan, team og mål "
        "i et år.",
        ("CarePlan", "CareTeam", "Goal"),
    )  # fmt: skip
    if scene.chance(0.5):
        _block(scene, subject, start)


def _block(scene: Scene, subject: Json, start: int) -> None:
    """A block of a named clinician (by authorisation id), of a treatment site (SOR) — with a
    positive consent for one named doctor there, which overrides the block for that doctor — or
    of the data of a period."""
    medical = scene.home.region.medical
    kind = "site" if scene.complete else scene.rng.choice(("clinician", "site", "period"))
    data_period, actors = None, []
    if kind == "clinician":
        doctor = medical.of("doctor", scene.rng)
        actors, text = [doctor.practitioner_ref()], f"Lægen {doctor.name.text} må ikke se"
    elif kind == "site":
        actors, text = [medical.ref()], f"{medical.name} må ikke se"
    else:
        data_period = period(scene.day(start - 400), scene.day(start - 300))
        text = f"Ingen må se oplysninger fra {data_period['start']} til {data_period['end']} af"
    plans.consent(
        scene, "block", subject, "block", [subject], actors, start - 30, None,
        f"Spærring: {text} borgerens oplysninger.", data_period=data_period,
    )  # fmt: skip
    if kind == "site":
        doctor = medical.of("doctor", scene.rng)
        plans.consent(
            scene, "permit-doctor", subject, "treatment-permit", [subject],
            [doctor.practitioner_ref()], start - 10, None,
            f"Samtykke: lægen {doctor.name.text} må trods spærringen af {medical.name} se "
            "borgerens oplysninger i behandlingsøjemed.",
        )  # fmt: skip
