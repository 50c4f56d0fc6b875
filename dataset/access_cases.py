"""The demo's cases of cross-sector access (issue 12, DOMAIN.md §6): who has a care relationship
with whom, and what the citizens blocked or permitted — added to the scenarios' data so every
rule has a person to log in as and a citizen to try it on.

- a ward section under the medical ward (``Organization.partOf``), so a block of the ward
  reaches its sub-units;
- Mikkel (S3) is referred by his psychiatrist to the medical ward, which he blocked: the ward
  and its section now have a relationship, and the block (with the named doctor's permit that
  overrides it) decides;
- Poul (S6) blocks a named doctor of his own GP clinic (by authorisation id and reference);
- Birthe (S5) blocks the data of 2019 (an alcohol treatment course that year);
- Sofie, 16, treated in child and youth psychiatry (BUA), blocks her mother and blocks her
  psychiatric data (security label v3-ActCode PSY) for everyone but psychiatry.

The PPR worker's permit for Emil (S2) is S2's own consent (the parents', from the data set's
'today', one year). Only the demo builds these; the synthetic set does not.
"""

from __future__ import annotations

import random
from datetime import date

from dataset import build as b
from dataset import codes as c
from dataset.build import Json, coding, label, ref_of
from dataset.directory import DirectoryBuilder, RegionUnits, Unit
from dataset.names import Name
from dataset.scenarios import events, people, plans, records, requests
from dataset.scenarios.scene import DATASET_DATE, CprRegistry, Home, Person, Scene

TEEN = Person(Name("Sofie", "Bach", True), date(2010, 2, 11), "1102108404")
"""16 at the data set's 'today': she consents and blocks herself (sundhedsloven §17 stk. 3)."""

BLOCKED_YEAR = ("2019-01-01", "2019-12-31")
ALCOHOL = c.Diagnosis("DF102", "Alkoholafhængighed")


def ward_section(directory: DirectoryBuilder, region: RegionUnits) -> Unit:
    """A bed section of the medical ward: a sub-unit (``partOf``) the ward's blocks reach."""
    medical = region.medical
    return directory.unit(
        f"{region.region.slug}-medical-ward-m3",
        f"Sengeafsnit M3, {medical.name}",
        directory.health_ids(),
        (("nurse", "Sygeplejerske"),),
        part_of=medical,
    )


def _days(day: str) -> int:
    """``day`` (ISO date) as days from the data set's 'today' (what scenes count in)."""
    return date.fromisoformat(day).toordinal() - DATASET_DATE.toordinal()


def build(home: Home, gp_2: Unit, cprs: CprRegistry) -> list[Json]:
    """The cases' resources; ``home`` is Aarhus with GP clinic 1, ``gp_2`` the other clinic."""
    out: list[Json] = []

    def scene(prefix: str, gp: Unit = home.gp) -> Scene:
        rng = random.Random(f"{prefix}-access")
        return Scene(prefix, rng, Home(home.region, home.municipality, gp), cprs, complete=True)

    out += _mikkel_referred_to_the_blocked_ward(scene("demo-s3", gp_2))
    out += _poul_blocks_a_named_doctor(scene("demo-s6"))
    out += _birthe_blocks_a_year(scene("demo-s5", gp_2))
    cprs.claim(TEEN.cpr)
    out += _sofie(scene("demo-teen"))
    return out


def _citizen(scene: Scene, local: str, name: str) -> Json:
    return b.ref("Patient", scene.id(local), name)


def _mikkel_referred_to_the_blocked_ward(scene: Scene) -> list[Json]:
    region = scene.home.region
    subject = _citizen(scene, "citizen", "Mikkel Holm")
    referral = requests.service_request(
        scene, "ecg-request", subject, c.REFERRAL,
        "Somatisk udredning: EKG og blodprøver under antipsykotisk behandling",
        region.outreach.of("doctor").ref(), region.medical.sor_ref(), "routine",
        scene.at(-14, 11),
    )  # fmt: skip
    requests.handed_over(scene, "ecg-task", referral, "Medicinsk afdeling indkalder til EKG")
    return scene.out


def _poul_blocks_a_named_doctor(scene: Scene) -> list[Json]:
    subject = _citizen(scene, "citizen", "Poul Eriksen")
    doctor = [s for s in scene.home.gp.staff if s.kind == "doctor"][1]  # not his own GP
    assert doctor.authorisation is not None
    actor = doctor.practitioner_ref()
    actor["identifier"] = b.authorisation(doctor.authorisation)
    plans.consent(
        scene, "block-doctor", subject, "block", [subject], [actor], -60, None,
        f"Spærring: lægen {doctor.name.text} (autorisations-id {doctor.authorisation}) må ikke "
        "se borgerens oplysninger.",
    )  # fmt: skip
    return scene.out


def _birthe_blocks_a_year(scene: Scene) -> list[Json]:
    gp = scene.home.gp
    subject = _citizen(scene, "citizen", "Birthe Lund")
    first, last = BLOCKED_YEAR
    problem = records.condition(
        scene, "alcohol", subject, ALCOHOL, gp.of("doctor").ref(), _days("2019-03-04"),
        "problem-list-item",
    )  # fmt: skip
    problem["clinicalStatus"] = b.concept(
        "I remission", b.coding(c.CONDITION_CLINICAL, "remission")
    )
    events.encounter(
        scene, "alcohol-treatment", subject, "AMB", "Samtaleforløb om alkohol hos egen læge",
        ("2019-03-04T10:00:00+01:00", "2019-09-30T11:00:00+02:00"), gp.ref(),
        [gp.of("doctor").ref()], diagnosis=[{"condition": ref_of(problem, ALCOHOL.text)}],
    )  # fmt: skip
    plans.consent(
        scene, "block-period", subject, "block", [subject], [], -120, None,
        f"Spærring: ingen må se borgerens oplysninger fra {first} til {last}.",
        data_period=b.period(first, last),
    )  # fmt: skip
    return scene.out


def _sofie(scene: Scene) -> list[Json]:
    home = scene.home
    bua, gp_doctor = home.region.bua, home.gp.of("doctor")
    psychiatrist, nurse = bua.of("doctor"), bua.of("nurse")
    pat = people.patient(scene, "citizen", TEEN, "16 år, går i 1.g.")
    subject = ref_of(pat)
    mother = people.related_person(
        scene, "mother", scene.person((40, 50), True, TEEN.name.family), subject, "Mor",
        coding(c.ROLE_CODE, "MTH"), coding(c.DK_RELATION, "PARAUTH"),
    )  # fmt: skip
    start = -150
    problem = records.condition(
        scene, "condition", subject, c.CHILD_PSYCHIATRY[2], psychiatrist.ref(), start
    )
    visit = events.encounter(
        scene, "bua-visit", subject, "AMB", "Samtale i børne- og ungdomspsykiatrien",
        (scene.at(start + 7, 13), scene.at(start + 7, 14)), bua.ref(), [psychiatrist.ref()],
        diagnosis=[{"condition": ref_of(problem, c.CHILD_PSYCHIATRY[2].text), "rank": 1}],
    )  # fmt: skip
    drug = records.medication(
        scene, "medication", subject, c.CHILD_PSYCHIATRIC_DRUGS[2], psychiatrist.ref(),
        start + 7, "new", "Opstart efter udredning i BUA",
    )  # fmt: skip
    for psychiatric in (problem, visit, drug):
        label(psychiatric, c.PSYCHIATRY)
    plans.careteam(
        scene, "careteam", subject, f"Forløb i BUA for {TEEN.name.given}", bua.ref(),
        [
            (("patient-responsible-doctor",), psychiatrist.ref()),
            (("coordinator",), nurse.ref()),
            (("general-practitioner",), gp_doctor.ref()),
            (("member",), subject),
        ],
        start,
    )  # fmt: skip
    plans.consent(
        scene, "block-mother", subject, "block", [subject], [ref_of(mother)], -40, None,
        f"Spærring: {TEEN.name.given} (16 år) har frabedt sig, at hendes mor ser hendes "
        "helbredsoplysninger.",
    )  # fmt: skip
    plans.consent(
        scene, "block-psychiatry", subject, "block", [subject], [], -40, None,
        "Spærring: psykiatriske oplysninger må kun ses af psykiatrien.",
        labels=(c.PSYCHIATRY,),
        exceptions=(plans.exception("permit", [home.region.psychiatry.ref()]),),
    )  # fmt: skip
    return scene.out
