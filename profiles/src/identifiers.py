"""The Danish identifier rules (DOMAIN.md §4) as invariants and identifier slices.

dk-core states each rule in a profile on the Identifier data type. Here every rule is an
invariant on the *unsliced* identifier element of the resource profile, written as
``where(system = …).value.all(<check>)``: it selects the identifiers of one system and checks
their values, so it holds whether or not a validator matches the identifier to a slice, it is
always true or false (never empty), and a missing value is left to the slice's cardinality instead
of being reported twice. The slices add the fixed ``use`` and the required ``value``.

Checks FHIRPath regex cannot express use the validator's functions ``dkCprValid()``,
``dkCvrValid()`` and ``dkGlnValid()`` (contract in briefs/profiles-contract.md).
"""

from __future__ import annotations

from profiles.danish.identifiers import (
    AUTHORISATION_PATTERN,
    D_ECPR_PATTERN,
    MUNICIPALITY_PATTERN,
    REGION_PATTERN,
    SOR_PATTERN,
    X_ECPR_PATTERN,
    YDERNUMMER_PATTERN,
)
from profiles.src import canon
from profiles.src.dsl import Json, binding, el, fixed_system_slice, inv, slice_entry
from profiles.src.terminology_dk import D_ECPR_VS, MUNICIPALITY_VS

UUID_URN_PATTERN = "^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

D_ECPR_SYSTEMS = (canon.D_ECPR, *canon.D_ECPR_REGIONAL)


def _in(systems: tuple[str, ...]) -> str:
    if len(systems) == 1:
        return f"system = '{systems[0]}'"
    listed = " | ".join(f"'{s}'" for s in systems)
    return f"system in ({listed})"


def rule(key: str, human: str, systems: tuple[str, ...], check: str) -> Json:
    """Invariant on an Identifier element: every value of the given systems passes ``check``."""
    return inv(key, human, f"where({_in(systems)}).value.all({check})")


def on_child(invariant: Json, child: str) -> Json:
    """The same rule stated on an element that holds the identifiers in ``child`` (e.g. a
    Reference's ``identifier``)."""
    return {**invariant, "expression": f"{child}.{invariant['expression']}"}


def regex(pattern: str) -> str:
    return f"matches('{pattern}')"


CPR_RULE = rule(
    "dk-core-cpr-1",
    "A CPR number is 10 digits whose first six (DDMMYY) are a real birth date, the century "
    "given by the 7th digit",
    (canon.CPR,),
    "dkCprValid()",
)
X_ECPR_RULE = rule(
    "dk-core-x-ecpr-1",
    "An X-eCPR is a birth date DDMMYY, two digits, 1 or 7, two capital letters and a digit",
    (canon.X_ECPR,),
    regex(X_ECPR_PATTERN),
)
D_ECPR_RULE = rule(
    "dk-core-d-ecpr-1",
    "A D-eCPR is a birth date DDMMYY, two digits, 0, 5 or 6, two capital letters and a digit",
    D_ECPR_SYSTEMS,
    regex(D_ECPR_PATTERN),
)
SOR_RULE = rule(
    "dk-core-sor-1", "A SOR id has at least 11 digits", (canon.SOR,), regex(SOR_PATTERN)
)
CVR_RULE = rule(
    "dk-core-cvr-1",
    "A CVR number is 8 digits passing the modulus-11 check",
    (canon.CVR,),
    "dkCvrValid()",
)
GLN_RULE = rule(
    "dk-core-gln-1",
    "A GLN (EAN location number) is 13 digits with a valid GS1 check digit",
    (canon.GLN, canon.GLN_HTTPS),
    "dkGlnValid()",
)
YDERNUMMER_RULE = rule(
    "dk-core-ydernummer-1",
    "A ydernummer (provider number) consists of digits only",
    (canon.YDERNUMMER,),
    regex(YDERNUMMER_PATTERN),
)
MUNICIPALITY_RULE = rule(
    "dk-core-municipality-1",
    "A municipality code is four digits",
    (canon.MUNICIPALITY,),
    regex(MUNICIPALITY_PATTERN),
)
REGION_RULE = rule(
    "dk-core-region-1",
    "A region code is one of the ISO 3166-2 codes DK-81 to DK-85",
    (canon.REGION,),
    regex(REGION_PATTERN),
)
KOMBIT_RULE = rule(
    "dk-core-kombit-1",
    "A KOMBIT organisation id is a urn:uuid",
    (canon.KOMBIT_ORG,),
    regex(UUID_URN_PATTERN),
)


def authorisation_rule(key: str) -> Json:
    return rule(
        key,
        "An authorisation id is exactly 5 characters, digits and consonants only",
        (canon.AUTHORISATION,),
        regex(AUTHORISATION_PATTERN),
    )


PERSON_RULES = [CPR_RULE, X_ECPR_RULE, D_ECPR_RULE]
ORGANIZATION_RULES = [
    SOR_RULE,
    CVR_RULE,
    GLN_RULE,
    YDERNUMMER_RULE,
    MUNICIPALITY_RULE,
    REGION_RULE,
    KOMBIT_RULE,
]


def person_identifier_slices(base: str) -> list[Json]:
    """CPR, X-eCPR and D-eCPR slices of ``Patient.identifier`` / ``RelatedPerson.identifier``."""
    value = {"min": 1, "maxLength": 10}
    return [
        *fixed_system_slice(
            base,
            "cpr",
            canon.CPR,
            "CPR number (cpr-nummer) from the CPR register",
            use={"fixedCode": "official"},
            value=value,
        ),
        *fixed_system_slice(
            base,
            "x-ecpr",
            canon.X_ECPR,
            "X-eCPR: replacement number from the national eCPR service",
            use={"fixedCode": "temp"},
            value=value,
        ),
        slice_entry(f"{base}:d-ecpr", 0, "1", "D-eCPR: replacement number issued by a region"),
        el(f"{base}:d-ecpr.use", fixedCode="temp"),
        el(
            f"{base}:d-ecpr.system",
            min=1,
            binding=binding("required", D_ECPR_VS, "The systems a D-eCPR may be issued under"),
        ),
        el(f"{base}:d-ecpr.value", **value),
    ]


def organization_identifier_slices(base: str) -> list[Json]:
    official = {"fixedCode": "official"}
    required = {"min": 1}
    return [
        *fixed_system_slice(
            base, "EAN-ID", canon.GLN, "GLN (EAN location number)", use=official, value=required
        ),
        *fixed_system_slice(
            base,
            "SOR-ID",
            canon.SOR,
            "SOR id of a health organisation",
            use=official,
            value=required,
        ),
        *fixed_system_slice(
            base,
            "KOMBIT-ORG-ID",
            canon.KOMBIT_ORG,
            "Organisation unit id from KOMBIT's organisation service (FK-ORG)",
            use=official,
            value=required,
        ),
        *fixed_system_slice(
            base,
            "Ydernummer",
            canon.YDERNUMMER,
            "Ydernummer: provider number of a general practice",
            value=required,
        ),
        *fixed_system_slice(
            base, "CVR-ID", canon.CVR, "CVR number (company register)", use=official, value=required
        ),
        *fixed_system_slice(
            base,
            "Kommunekode",
            canon.MUNICIPALITY,
            "Municipality code (kommunekode)",
            value={
                "min": 1,
                "binding": binding("required", MUNICIPALITY_VS, "Danish municipality codes"),
            },
        ),
        *fixed_system_slice(
            base,
            "Regionskode",
            canon.REGION,
            "Region code (ISO 3166-2, DK-81..DK-85)",
            value=required,
        ),
        *fixed_system_slice(
            base,
            "ProducentID",
            canon.MEDCOM_PRODUCER,
            "MedCom producer id of a laboratory",
            use=official,
            value=required,
        ),
    ]
