"""S2 Shared binding plan for a child in child and youth psychiatry (BUA).

One CarePlan and CareTeam across BUA (region), PPR and family services (municipality, non-health),
the GP and the parents. The parents' consent governs what the non-health members see; from 15
the young person consents themself. The plan ends at 18, when it changes hands to adult
psychiatry (its last activity).
"""

from __future__ import annotations

from dataset import codes as c
from dataset.build import coding, label, ref_of
from dataset.scenarios import events, people, plans, records
from dataset.scenarios.scene import Person, Scene, age_at, years_before

CHILD_GOALS = (
    "Jeg vil gå i skole hver dag",
    "Jeg vil kunne sove om natten",
    "Jeg vil have en ven at være sammen med i frikvartererne",
)
PARENT_GOALS = (
    "Færre konflikter derhjemme om morgenen",
    "At vi som familie kan tage på ferie sammen igen",
)


def build(scene: Scene, child: Person) -> None:
    home, rng = scene.home, scene.rng
    age = age_at(child.birth, scene.anchor)
    bua, m = home.region.bua, home.municipality
    psychiatrist, nurse = bua.of("doctor"), bua.of("nurse")
    psychologist, caseworker = m.ppr.of("psychologist"), m.family.of("caseworker")
    gp_doctor = home.gp.of("doctor", rng)
    pat = people.patient(scene, "child", child, f"{age} år, går i {max(age - 6, 0)}. klasse.")
    subject = ref_of(pat)
    parent_ages = (age + 24, age + 42)
    mother = people.related_person(
        scene, "mother", scene.person(parent_ages, True, child.name.family), subject, "Mor",
        coding(c.ROLE_CODE, "MTH"), coding(c.DK_RELATION, "PARAUTH"),
    )  # fmt: skip
    father = people.related_person(
        scene, "father", scene.person(parent_ages, False, child.name.family), subject, "Far",
        coding(c.ROLE_CODE, "FTH"), coding(c.DK_RELATION, "PARAUTH"),
    )  # fmt: skip
    parents = [ref_of(mother), ref_of(father)]
    diagnosis = rng.choice(c.CHILD_PSYCHIATRY)
    start = -rng.randrange(30, 300)
    problem = records.condition(
        scene, "condition", subject, diagnosis, psychiatrist.ref(), start - 20
    )
    visit = events.encounter(
        scene, "bua-visit", subject, "AMB", "Samtale i børne- og ungdomspsykiatrien",
        (scene.at(start + 14, 13), scene.at(start + 14, 14)), bua.ref(), [psychiatrist.ref()],
        diagnosis=[{"condition": ref_of(problem, diagnosis.text), "rank": 1}],
    )  # fmt: skip
    label(problem, c.PSYCHIATRY)
    label(visit, c.PSYCHIATRY)
    team = plans.careteam(
        scene, "careteam", subject, f"Fælles forløb for {child.name.given}", bua.ref(),
        [
            (("patient-responsible-doctor",), psychiatrist.ref()),
            (("coordinator",), nurse.ref()),
            (("member",), psychologist.ref()),
            (("contact-person",), caseworker.ref()),
            (("general-practitioner",), gp_doctor.ref()),
            *((("relative",), parent) for parent in parents),
        ],
        start,
    )  # fmt: skip
    goals = [
        plans.goal(scene, "goal-child", subject, rng.choice(CHILD_GOALS), subject, start),
        plans.goal(scene, "goal-parents", subject, rng.choice(PARENT_GOALS), parents[0], start),
    ]
    eighteen = years_before(child.birth, -18)
    handover = (eighteen.toordinal() - scene.anchor.toordinal()) - 30
    plans.careplan(
        scene, "careplan", subject, f"Fælles forpligtende handleplan for {child.name.given}",
        ["child-youth-psychiatry", "cross-sector-course"], ref_of(team), nurse.ref(),
        [
            plans.activity("Udredning og samtaler i BUA hver 14. dag", "in-progress",
                           [psychiatrist.ref()], "Hver 14. dag"),
            plans.activity("PPR rådgiver klasseteamet om støtte i undervisningen", "in-progress",
                           [psychologist.ref()], "Hver måned"),
            plans.activity("Familiebehandling i hjemmet", "scheduled", [caseworker.ref()],
                           "Ugentligt"),
            plans.activity("Forældrekursus om hverdagens struktur", "in-progress", parents),
            plans.activity("Årlig helbredsundersøgelse hos egen læge", "not-started",
                           [gp_doctor.ref()]),
            plans.activity("Overlevering til voksenpsykiatrien før 18 år", "not-started",
                           [home.region.psychiatry.ref()], scene.day(handover)),
        ],
        start, goals=[ref_of(g, g["description"]["text"]) for g in goals],
        addresses=[ref_of(problem, diagnosis.text)],
        description="Planen er aftalt med barnet og forældrene; den ophører ved 18 år.",
        end=eighteen.isoformat(),
    )  # fmt: skip
    if diagnosis.code == "DF900" or scene.chance(0.3):
        drug = c.CHILD_PSYCHIATRIC_DRUGS[0 if diagnosis.code == "DF900" else rng.randrange(1, 3)]
        drug_line = records.medication(
            scene, "medication", subject, drug, psychiatrist.ref(), start + 14, "new",
            "Opstart efter udredning i BUA",
        )  # fmt: skip
        label(drug_line, c.PSYCHIATRY)
    by = [subject] if age >= 15 else parents
    given = 0 if scene.complete else start  # the demo's permit starts on the data set's 'today'
    plans.consent(
        scene, "consent", subject, "disclosure-permit", by, [m.ppr.ref(), m.family.ref()], given,
        given + 365,
        f"Samtykke fra {'den unge' if age >= 15 else 'forældrene'}: PPR og Familieafdelingen må "
        "se handleplan, team og mål i et år.",
        ("CarePlan", "CareTeam", "Goal"),
    )  # fmt: skip
