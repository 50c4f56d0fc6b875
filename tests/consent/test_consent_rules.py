"""The citizen's consents as table-driven rules (pure: no store, no HTTP).

Each row is one actor under one citizen's Consents at NOW, and exactly the data (tests/consent/
support.py `DATA`) it sees; the write rules (who may record a Consent), age 15 both ways and
custody follow. docs/consent.md names the row that proves each rule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from auth.consent import age_on, consent_write_problem, guardian_may_read, recorded, view
from auth.consent.management import RECORDED
from auth.consent.view import DATA_DATE, data_date
from tests.consent.rules_support import (
    ALL,
    BERG,
    DATA,
    FAMILY,
    GP,
    HANSEN,
    HOSPITAL,
    NOW,
    NURSE,
    ORTHO,
    PPR,
    PSY,
    PSYCH_DEPT,
    PSYCHIATRY_TAG,
    RESTRICTED,
    TEACHER,
    UNPLACED,
    WARD_7,
    Actor,
    block,
    by_authorisation,
    by_sor,
    consent,
    disclosure,
    provision,
    ref,
    treatment_permit,
)

OBSERVATIONS = {"obs-2019", "obs-2024", "obs-psy", "obs-r"}


def seen(actor: Actor, consents: list[dict[str, Any]]) -> set[str]:
    v = view(actor, consents, NOW)
    return {name for name, r in DATA.items() if v.admits(r["resourceType"], r)}


Row = tuple[str, Actor, list[dict[str, Any]], set[str]]

BLOCKS: list[Row] = [
    ("no consent: the care relationship decides", HANSEN, [], set(ALL)),
    ("block of a clinician by reference", HANSEN, [block(ref("Practitioner/hansen"))], set()),
    ("… another clinician is not blocked", BERG, [block(ref("Practitioner/hansen"))], set(ALL)),
    ("block of a clinician by authorisation id", HANSEN, [block(by_authorisation("HB2K7"))], set()),
    ("block of a role", HANSEN, [block(ref("PractitionerRole/hansen-ward-7"))], set()),
    ("block of an organization by reference", BERG, [block(ref(HOSPITAL))], set()),
    ("… covers its sub-units' staff", HANSEN, [block(ref(HOSPITAL))], set()),
    ("… not other organizations", GP, [block(ref(HOSPITAL))], set(ALL)),
    ("block of an organization by SOR id (sub-unit)", HANSEN, [block(by_sor(PSYCH_DEPT))], set()),
    ("… a sibling unit is not blocked", BERG, [block(by_sor(PSYCH_DEPT))], set(ALL)),
    ("block of a ward does not cover its parent's staff", BERG, [block(ref(WARD_7))], set(ALL)),
    (
        "block of a data period (clinical date)",
        NURSE,
        [block(data_period=("2019-01-01", "2019-12-31"))],
        ALL - {"obs-2019"},
    ),
    (
        "block of a data period: no clinical date → meta.lastUpdated",
        NURSE,
        [block(data_period=("2020-01-01", "2020-12-31"))],
        ALL - {"patient"},
    ),
    (
        "block of a data period open at the start",
        NURSE,
        [block(data_period=(None, "2024-03-31"))],
        ALL - {"obs-2019", "obs-2024", "med-psy", "patient"},
    ),
    ("block of a kind of data (class)", GP, [block(classes=("Observation",))], ALL - OBSERVATIONS),
    ("block of a security label (psychiatry)", GP, [block(security=(PSY,))], ALL - {"obs-psy"}),
    (
        "block of private-marked data (Confidentiality R)",
        GP,
        [block(security=(RESTRICTED,))],
        ALL - {"obs-r"},
    ),
    (
        "block of a category code (meta.tag)",
        GP,
        [block(codes=(PSYCHIATRY_TAG,))],
        ALL - {"med-psy"},
    ),
    (
        "block: actor AND label — the named clinician",
        HANSEN,
        [block(ref("Practitioner/hansen"), security=(PSY,))],
        ALL - {"obs-psy"},
    ),
    (
        "block: actor AND label — others",
        BERG,
        [block(ref("Practitioner/hansen"), security=(PSY,))],
        set(ALL),
    ),
    (
        "block: class AND data period",
        GP,
        [block(classes=("Observation",), data_period=("2024-01-01", "2024-12-31"))],
        ALL - {"obs-2024", "obs-psy"},
    ),
    (
        "block: two labels are alternatives",
        GP,
        [block(security=(PSY, RESTRICTED))],
        ALL - {"obs-psy", "obs-r"},
    ),
    (
        "two blocks: both apply",
        GP,
        [block(security=(PSY,)), block(classes=("CarePlan",))],
        ALL - {"obs-psy", "plan"},
    ),
    (
        "treatment-permit for the clinician lifts the block of her hospital",
        HANSEN,
        [block(ref(HOSPITAL)), treatment_permit(ref("Practitioner/hansen"))],
        set(ALL),
    ),
    (
        "… but not for her colleague",
        BERG,
        [block(ref(HOSPITAL)), treatment_permit(ref("Practitioner/hansen"))],
        set(),
    ),
    (
        "treatment-permit for the hospital does not lift a block of the clinician",
        HANSEN,
        [block(ref("Practitioner/hansen")), treatment_permit(ref(HOSPITAL))],
        set(),
    ),
    (
        "treatment-permit for the unit lifts a block of all (no actor) psychiatry data",
        HANSEN,
        [block(security=(PSY,)), treatment_permit(ref(PSYCH_DEPT))],
        set(ALL),
    ),
    (
        "treatment-permit lifts only the data it covers",
        HANSEN,
        [block(ref(HOSPITAL)), treatment_permit(ref("Practitioner/hansen"), classes=("CarePlan",))],
        {"plan"},
    ),
    (
        "treatment-permit for another clinician lifts nothing",
        HANSEN,
        [block(security=(PSY,)), treatment_permit(ref("Practitioner/berg"))],
        ALL - {"obs-psy"},
    ),
    (
        "nested exception: block of the hospital except Dr Hansen — Hansen",
        HANSEN,
        [block(ref(HOSPITAL), nested=(provision("permit", ref("Practitioner/hansen")),))],
        set(ALL),
    ),
    (
        "nested exception: block of the hospital except Dr Hansen — Berg",
        BERG,
        [block(ref(HOSPITAL), nested=(provision("permit", ref("Practitioner/hansen")),))],
        set(),
    ),
    (
        "nested exception by data: block all but care plans",
        GP,
        [block(nested=(provision("permit", classes=("CarePlan",)),))],
        {"plan"},
    ),
    (
        "nested exception of an exception: block all but observations, yet not private ones",
        GP,
        [
            block(
                nested=(
                    provision(
                        "permit",
                        classes=("Observation",),
                        nested=(provision("deny", security=(RESTRICTED,)),),
                    ),
                )
            )
        ],
        OBSERVATIONS - {"obs-r"},
    ),
    (
        "nested provision of the same type is no exception",
        GP,
        [block(security=(PSY,), nested=(provision("deny", classes=("CarePlan",)),))],
        ALL - {"obs-psy"},
    ),
    (
        "a health actor ignores disclosure-permits",
        GP,
        [disclosure(ref("Practitioner/gp"), classes=("CarePlan",))],
        set(ALL),
    ),
]

IN_FORCE: list[Row] = [
    (
        "inactive block is ignored",
        GP,
        [consent("block", provision("deny", period=("2026-01-01", None)), status="inactive")],
        set(ALL),
    ),
    (
        "withdrawn (rejected) block is ignored",
        GP,
        [consent("block", provision("deny", period=("2026-01-01", None)), status="rejected")],
        set(ALL),
    ),
    (
        "expired block is ignored",
        GP,
        [consent("block", provision("deny", period=("2025-01-01", "2026-05-31")))],
        set(ALL),
    ),
    (
        "block ending today still holds",
        GP,
        [consent("block", provision("deny", period=("2025-01-01", "2026-06-01")))],
        set(),
    ),
    ("block not yet started is ignored", GP, [block(start="2026-06-02")], set(ALL)),
    (
        "block without a start is ignored (ff-consent-1)",
        GP,
        [consent("block", provision("deny"))],
        set(ALL),
    ),
    (
        "block whose top provision permits is ignored (ff-consent-2)",
        GP,
        [consent("block", provision("permit", period=("2026-01-01", None)))],
        set(ALL),
    ),
    (
        "block of another scope is ignored",
        GP,
        [
            {
                **block(),
                "scope": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                            "code": "research",
                        }
                    ]
                },
            }
        ],
        set(ALL),
    ),
    (
        "block without policyRule is ignored",
        GP,
        [{**block(), "policyRule": {"text": "spærring"}}],
        set(ALL),
    ),
]

NON_HEALTH: list[Row] = [
    ("non-health without a permit sees nothing", PPR, [], set()),
    ("… a block elsewhere changes nothing", PPR, [block(ref(HOSPITAL))], set()),
    ("actor of unknown sector sees nothing", UNPLACED, [], set()),
    (
        "disclosure-permit naming the organization, for care plans",
        PPR,
        [disclosure(ref("Organization/ppr"), classes=("CarePlan",))],
        {"plan"},
    ),
    (
        "disclosure-permit naming a parent organization (SOR) covers the unit",
        PPR,
        [disclosure(by_sor("Organization/social"), classes=("CarePlan",))],
        {"plan"},
    ),
    (
        "disclosure-permit naming the person",
        FAMILY,
        [disclosure(ref("Practitioner/family"))],
        set(ALL),
    ),
    (
        "disclosure-permit naming another party",
        TEACHER,
        [disclosure(ref("Organization/ppr"))],
        set(),
    ),
    (
        "disclosure-permit with a nested exception",
        PPR,
        [disclosure(ref("Organization/ppr"), nested=(provision("deny", security=(PSY,)),))],
        ALL - {"obs-psy"},
    ),
    (
        "disclosure-permit of a data period",
        PPR,
        [disclosure(ref("Organization/ppr"), data_period=("2024-01-01", None))],
        {"obs-2024", "obs-psy", "obs-r", "plan"},
    ),
    (
        "disclosure-permit lifts a block for the named party",
        PPR,
        [block(security=(PSY,)), disclosure(ref("Organization/ppr"), classes=("Observation",))],
        OBSERVATIONS,
    ),
    (
        "disclosure-permit ended",
        PPR,
        [disclosure(ref("Organization/ppr"), period=("2025-06-01", "2026-05-31"))],
        set(),
    ),
    (
        "disclosure-permit not yet begun",
        PPR,
        [disclosure(ref("Organization/ppr"), period=("2026-07-01", "2027-06-30"))],
        set(),
    ),
    (
        "disclosure-permit of exactly one year holds",
        PPR,
        [disclosure(ref("Organization/ppr"), period=("2026-01-01", "2027-01-01"))],
        set(ALL),
    ),
    (
        "disclosure-permit over one year is void (ff-consent-3)",
        PPR,
        [disclosure(ref("Organization/ppr"), period=("2026-01-01", "2027-01-02"))],
        set(),
    ),
    (
        "disclosure-permit without an end is void (ff-consent-3)",
        PPR,
        [
            consent(
                "disclosure-permit",
                provision("permit", ref("Organization/ppr"), period=("2026-01-01", None)),
            )
        ],
        set(),
    ),
    ("disclosure-permit naming no actor is void", PPR, [disclosure()], set()),
    (
        "a treatment-permit does not open data to non-health",
        PPR,
        [treatment_permit(ref("Organization/ppr"))],
        set(),
    ),
    (
        "inactive disclosure-permit",
        PPR,
        [{**disclosure(ref("Organization/ppr")), "status": "inactive"}],
        set(),
    ),
]


@pytest.mark.parametrize(
    ("actor", "consents", "expected"),
    [pytest.param(a, c, e, id=name) for name, a, c, e in BLOCKS + IN_FORCE + NON_HEALTH],
)
def test_actor_sees_exactly(
    actor: Actor, consents: list[dict[str, Any]], expected: set[str]
) -> None:
    assert seen(actor, consents) == expected


def test_everything_and_nothing() -> None:
    assert view(GP, [], NOW).everything and not view(GP, [], NOW).nothing
    assert view(PPR, [], NOW).nothing and not view(PPR, [], NOW).everything
    blocked = view(GP, [block(security=(PSY,))], NOW)
    assert not blocked.everything and not blocked.nothing
    assert view(GP, [block(ref("Practitioner/berg"))], NOW).everything  # applies to another


def test_unconditional_views_need_no_search_condition() -> None:
    assert view(GP, [], NOW).filters("Observation") == []
    assert view(PPR, [disclosure(ref("Organization/ppr"))], NOW).filters("Observation") == []
    hidden = view(PPR, [], NOW).filters("Observation")
    assert [(r.exclude, r.match.pairs, r.match.unless) for r in hidden] == [(True, (), ())]
    plans = view(PPR, [disclosure(ref("Organization/ppr"), classes=("CarePlan",))], NOW)
    assert [(r.exclude, r.match.pairs) for r in plans.filters("Observation")] == [(True, ())]
    assert plans.filters("CarePlan") == []


def test_every_data_date_is_a_date_parameter_of_its_type() -> None:
    assert {t: data_date(t) for t in DATA_DATE} == DATA_DATE
    assert data_date("Patient") is None
    # the clinical types served since issue 15 item 7 are matched on their clinical date
    assert data_date("AllergyIntolerance") == "date"  # recordedDate
    assert data_date("Immunization") == "date"  # occurrence
    assert data_date("Appointment") == "date"  # start
    assert data_date("DocumentReference") == "date"
    assert data_date("QuestionnaireResponse") == "authored"


# ---- age 15, custody and who writes a Consent ---------------------------------------------

RELATIONSHIP_CS = "http://hl7.dk/fhir/core/CodeSystem/dk-relatedperson-relationshipcodes"
V3_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"


def birth_date_aged(years: int, days_to_birthday: int = 0) -> str:
    """The birth date of one who is ``years`` old at NOW, turning ``years + 1`` in
    ``days_to_birthday`` days (0: ``years`` reached today)."""
    born = NOW.date().replace(year=NOW.year - years - (1 if days_to_birthday else 0))
    return born.fromordinal(born.toordinal() + days_to_birthday).isoformat()


def patient(birth: str | None, id_: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": id_, **({"birthDate": birth} if birth else {})}


def parent(
    *codes: tuple[str, str],
    patient_id: str = "p1",
    id_: str = "mother",
    **more: Any,
) -> dict[str, Any]:
    return {
        "resourceType": "RelatedPerson",
        "id": id_,
        "patient": {"reference": f"Patient/{patient_id}"},
        "relationship": [{"coding": [{"system": s, "code": c}]} for s, c in codes],
        **more,
    }


CUSTODY = (RELATIONSHIP_CS, "PARAUTH")
MOTHER = (V3_ROLE, "MTH")
MOTHER_WITH_CUSTODY = parent(MOTHER, CUSTODY)
CITIZEN = Actor("Patient/p1", sector="citizen")
AS_MOTHER = Actor("RelatedPerson/mother", sector="citizen")


@pytest.mark.parametrize(
    ("birth", "now", "age"),
    [
        ("2011-06-01", NOW, 15),  # the 15th birthday
        ("2011-06-02", NOW, 14),  # the day before it
        ("2012-02-29", datetime(2027, 2, 28, tzinfo=UTC), 14),  # leap day: not yet on 28 Feb
        ("2012-02-29", datetime(2027, 3, 1, tzinfo=UTC), 15),
        ("2011", NOW, None),  # the day of the birthday is not known
        ("not a date", NOW, None),
    ],
)
def test_age_on(birth: str, now: datetime, age: int | None) -> None:
    assert age_on(birth, now) == age


def _own_block(**changes: Any) -> dict[str, Any]:
    return {**block(ref("Practitioner/hansen")), **changes}


WRITES = [
    (
        "citizen of 15 records own block",
        CITIZEN,
        _own_block(),
        patient(birth_date_aged(15)),
        None,
        None,
    ),
    (
        "citizen of 14 may not",
        CITIZEN,
        _own_block(),
        patient(birth_date_aged(14, 1)),
        None,
        "under 15",
    ),
    (
        "citizen of unknown age may not",
        CITIZEN,
        _own_block(),
        patient(None),
        None,
        "age is unknown",
    ),
    (
        "citizen may not write another's",
        Actor("Patient/p2", sector="citizen"),
        _own_block(),
        patient(birth_date_aged(30)),
        None,
        "managed by the citizen",
    ),
    (
        "parent with custody of a child under 15",
        AS_MOTHER,
        _own_block(performer=[{"reference": "RelatedPerson/mother"}]),
        patient(birth_date_aged(14, 1)),
        MOTHER_WITH_CUSTODY,
        None,
    ),
    (
        "parent of a 15-year-old may not",
        AS_MOTHER,
        _own_block(performer=[{"reference": "RelatedPerson/mother"}]),
        patient(birth_date_aged(15)),
        MOTHER_WITH_CUSTODY,
        "from 15",
    ),
    (
        "parent without custody may not",
        AS_MOTHER,
        _own_block(performer=[{"reference": "RelatedPerson/mother"}]),
        patient(birth_date_aged(10)),
        parent(MOTHER),
        "custody",
    ),
    (
        "custodian who is no parent may not",
        AS_MOTHER,
        _own_block(performer=[{"reference": "RelatedPerson/mother"}]),
        patient(birth_date_aged(10)),
        parent((V3_ROLE, "NBOR"), CUSTODY),
        "custody",
    ),
    (
        "custody that ended",
        AS_MOTHER,
        _own_block(performer=[{"reference": "RelatedPerson/mother"}]),
        patient(birth_date_aged(10)),
        parent(MOTHER, CUSTODY, period={"end": "2026-05-01"}),
        "custody",
    ),
    (
        "inactive RelatedPerson",
        AS_MOTHER,
        _own_block(performer=[{"reference": "RelatedPerson/mother"}]),
        patient(birth_date_aged(10)),
        parent(MOTHER, CUSTODY, active=False),
        "custody",
    ),
    (
        "parent of another child",
        AS_MOTHER,
        _own_block(performer=[{"reference": "RelatedPerson/mother"}]),
        patient(birth_date_aged(10)),
        parent(MOTHER, CUSTODY, patient_id="p2"),
        "custody",
    ),
    (
        "clinician may not",
        HANSEN,
        _own_block(),
        patient(birth_date_aged(40)),
        None,
        "managed by the citizen",
    ),
    (
        "performer must be the writer (§42)",
        CITIZEN,
        _own_block(performer=[{"reference": "RelatedPerson/mother"}]),
        patient(birth_date_aged(40)),
        None,
        "Consent.performer",
    ),
    (
        "dateTime is required (§42)",
        CITIZEN,
        {k: v for k, v in _own_block().items() if k != "dateTime"},
        patient(birth_date_aged(40)),
        None,
        "Consent.dateTime",
    ),
    (
        "patient must be the citizen",
        CITIZEN,
        _own_block(patient={"reference": "Patient/p2"}),
        patient(birth_date_aged(40)),
        None,
        "Consent.patient",
    ),
    (
        "block needs a start (ff-consent-1)",
        CITIZEN,
        consent("block", provision("deny")),
        patient(birth_date_aged(40)),
        None,
        "ff-consent-1",
    ),
    (
        "disclosure-permit over a year (ff-consent-3)",
        CITIZEN,
        disclosure(ref("Organization/ppr"), period=("2026-01-01", "2027-02-01")),
        patient(birth_date_aged(40)),
        None,
        "ff-consent-3",
    ),
    (
        "permit names its actor",
        CITIZEN,
        treatment_permit(),
        patient(birth_date_aged(40)),
        None,
        "must name its actor",
    ),
    (
        "top provision matches the policy (ff-consent-2)",
        CITIZEN,
        consent("block", provision("permit", period=("2026-01-01", None))),
        patient(birth_date_aged(40)),
        None,
        "ff-consent-2",
    ),
    (
        "class must be resource types",
        CITIZEN,
        {
            **block(),
            "provision": {**block()["provision"], "class": [{"system": "urn:x", "code": "y"}]},
        },
        patient(birth_date_aged(40)),
        None,
        "class must be resource types",
    ),
    (
        "provision.data is refused, not ignored",
        CITIZEN,
        {
            **block(),
            "provision": {
                **block()["provision"],
                "provision": [
                    {
                        "type": "permit",
                        "data": [
                            {"meaning": "instance", "reference": {"reference": "Observation/x"}}
                        ],
                    }
                ],
            },
        },
        patient(birth_date_aged(40)),
        None,
        "provision.provision[0].data is not supported",
    ),
    (
        "scope must be patient-privacy",
        CITIZEN,
        {**_own_block(), "scope": {"text": "x"}},
        patient(birth_date_aged(40)),
        None,
        "patient-privacy",
    ),
]


@pytest.mark.parametrize(
    ("writer", "written", "subject", "relatedperson", "problem"),
    [pytest.param(*row[1:], id=row[0]) for row in WRITES],
)
def test_consent_write_problem(
    writer: Actor,
    written: dict[str, Any],
    subject: dict[str, Any],
    relatedperson: dict[str, Any] | None,
    problem: str | None,
) -> None:
    found = consent_write_problem(writer, written, subject, NOW, relatedperson=relatedperson)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found


def test_withdrawing_a_consent_needs_the_right_to_manage_not_the_authorship() -> None:
    """From 15 the young person withdraws (deletes) the block a parent recorded; the parent
    no longer may; a citizen of 14 may not withdraw a parent's block either."""
    by_mother = _own_block(performer=[{"reference": "RelatedPerson/mother"}])
    fifteen, fourteen = patient(birth_date_aged(15)), patient(birth_date_aged(14, 1))
    assert consent_write_problem(CITIZEN, by_mother, fifteen, NOW, deleting=True) is None
    assert consent_write_problem(CITIZEN, by_mother, fifteen, NOW) is not None  # not as hers
    refused = consent_write_problem(
        AS_MOTHER, by_mother, fifteen, NOW, relatedperson=MOTHER_WITH_CUSTODY, deleting=True
    )
    assert refused is not None and "from 15" in refused
    assert consent_write_problem(CITIZEN, by_mother, fourteen, NOW, deleting=True) is not None
    assert (
        consent_write_problem(
            AS_MOTHER, by_mother, fourteen, NOW, relatedperson=MOTHER_WITH_CUSTODY, deleting=True
        )
        is None
    )


def test_an_untyped_nested_provision_is_no_exception() -> None:
    untyped = {"class": [{"system": "http://hl7.org/fhir/resource-types", "code": "Patient"}]}
    assert seen(GP, [block(security=(PSY,), nested=(untyped,))]) == ALL - {"obs-psy"}
    assert seen(PPR, [disclosure(ref("Organization/ppr"), nested=(untyped,))]) == set(ALL)


def _permit_for_mother(**changes: Any) -> dict[str, Any]:
    return {**disclosure(ref("RelatedPerson/mother")), "dateTime": "2026-06-01", **changes}


GUARDIANS = [
    ("custody, child under 15", MOTHER_WITH_CUSTODY, birth_date_aged(14, 1), [], True),
    ("custody, child of 15 without a permit", MOTHER_WITH_CUSTODY, birth_date_aged(15), [], False),
    (
        "… a block of the parent changes nothing under 15",
        MOTHER_WITH_CUSTODY,
        birth_date_aged(14, 1),
        [block(ref("RelatedPerson/mother"))],
        True,
    ),
    (
        "child of 15 permits the parent",
        MOTHER_WITH_CUSTODY,
        birth_date_aged(15),
        [_permit_for_mother()],
        True,
    ),
    (
        "… a permit for the other parent",
        MOTHER_WITH_CUSTODY,
        birth_date_aged(15),
        [
            _permit_for_mother(
                provision=provision(
                    "permit", ref("RelatedPerson/father"), period=("2026-01-01", "2026-12-31")
                )
            )
        ],
        False,
    ),
    (
        "… the parent's own permit for herself",
        MOTHER_WITH_CUSTODY,
        birth_date_aged(15),
        [_permit_for_mother(performer=[{"reference": "RelatedPerson/mother"}])],
        False,
    ),
    (
        "… a permit given before the 15th birthday",
        MOTHER_WITH_CUSTODY,
        birth_date_aged(15),
        [_permit_for_mother(dateTime="2026-05-31")],
        False,
    ),
    (
        "… a permit that ended",
        MOTHER_WITH_CUSTODY,
        birth_date_aged(16),
        [
            _permit_for_mother(
                provision=provision(
                    "permit", ref("RelatedPerson/mother"), period=("2025-06-01", "2026-05-31")
                )
            )
        ],
        False,
    ),
    (
        "… a withdrawn permit",
        MOTHER_WITH_CUSTODY,
        birth_date_aged(16),
        [_permit_for_mother(status="inactive")],
        False,
    ),
    ("no custody, child of 10", parent(MOTHER), birth_date_aged(10), [], False),
    (
        "inactive RelatedPerson",
        parent(MOTHER, CUSTODY, active=False),
        birth_date_aged(10),
        [],
        False,
    ),
    ("child's age unknown", MOTHER_WITH_CUSTODY, None, [], False),
]


@pytest.mark.parametrize(
    ("relatedperson", "birth", "consents", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in GUARDIANS],
)
def test_guardian_may_read(
    relatedperson: dict[str, Any],
    birth: str | None,
    consents: list[dict[str, Any]],
    expected: bool,
) -> None:
    assert guardian_may_read(relatedperson, patient(birth), consents, NOW) is expected


def test_the_server_records_who_recorded_a_consent_and_when() -> None:
    sent = {
        **block(),
        "extension": [
            {"url": RECORDED, "extension": [{"url": "who", "valueReference": {"reference": "X"}}]},
            {"url": "http://example.org/other", "valueString": "kept"},
        ],
    }
    stored = recorded(sent, CITIZEN, NOW)
    assert stored["extension"] == [
        {"url": "http://example.org/other", "valueString": "kept"},
        {
            "url": RECORDED,
            "extension": [
                {"url": "who", "valueReference": {"reference": "Patient/p1"}},
                {"url": "when", "valueDateTime": "2026-06-01T12:00:00+00:00"},
            ],
        },
    ]
    assert sent["extension"][0]["extension"][0]["valueReference"] == {"reference": "X"}


def test_organization_chain_and_unit_names() -> None:
    """The fixtures' chain: a ward of the psychiatric department of the hospital."""
    assert HANSEN.organizations == (WARD_7, PSYCH_DEPT, HOSPITAL)
    assert BERG.organizations == (ORTHO, HOSPITAL)
