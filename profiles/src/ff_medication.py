"""MedicationStatement mirroring a line of the national shared medication card (FMK).

FMK is the source of truth for a Danish citizen's medication (DOMAIN.md §4); a statement here
mirrors one drug line: the drug by ATC and Danish drug id, the dosage as FMK's dosage text, who
the information came from, and — at a transition such as discharge — how and why the line
changed.
"""

from __future__ import annotations

from profiles.src import canon
from profiles.src.dsl import (
    FF,
    Json,
    binding,
    el,
    ext_type,
    extension,
    fixed_system_slice,
    inv,
    profile,
    ref,
    slice_entry,
    slicing,
    types,
)
from profiles.src.terminology_ff import MEDICATION_CHANGE_VS

# ATC at any of its five levels: A, A10, A10B, A10BA, A10BA02.
ATC_PATTERN = "^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$"
DRUG_ID_PATTERN = "^[0-9]+$"


def _changed(code: str) -> str:
    return (
        f"extension.where(url = '{canon.FF_MEDICATION_CHANGE}')"
        f".extension.where(url = 'type' and value = '{code}').exists()"
    )


def medication_change() -> Json:
    e = "Extension.extension"
    return extension(
        FF,
        "ff-medication-change",
        "FfMedicationChange",
        "Medication change",
        "How and why a medication line changed at a transition (e.g. discharge from hospital): "
        "new, changed, paused, discontinued or unchanged, with the reason in words.",
        ["MedicationStatement"],
        [
            slice_entry(f"{e}:type", 1, "1", "new | changed | paused | discontinued | unchanged"),
            el(f"{e}:type.extension", max="0"),
            el(f"{e}:type.url", fixedUri="type"),
            el(
                f"{e}:type.value[x]",
                min=1,
                type=types("code"),
                binding=binding("required", MEDICATION_CHANGE_VS, "Medication change type"),
            ),
            slice_entry(f"{e}:reason", 0, "1", "Why the line changed"),
            el(f"{e}:reason.extension", max="0"),
            el(f"{e}:reason.url", fixedUri="reason"),
            el(f"{e}:reason.value[x]", min=1, type=types("string")),
            el("Extension.value[x]", max="0"),
        ],
    )


def medication_statement() -> Json:
    m = "MedicationStatement"
    drug = f"{m}.medication[x]"
    return profile(
        FF,
        "ff-medicationstatement",
        m,
        "FfMedicationStatement",
        "Medication line (mirrors FMK)",
        "One drug on a Danish citizen's medication list as the national shared medication card "
        "(FMK) holds it: the drug by ATC code and Danish drug id, the dosage text, the source of "
        "the information, and how the line changed at a transition.",
        [
            el(
                m,
                constraint=[
                    inv(
                        "ff-medicationstatement-3",
                        "A discontinued line should have status stopped, a paused one on-hold",
                        f"({_changed('discontinued')} implies status = 'stopped') and "
                        f"({_changed('paused')} implies status = 'on-hold')",
                        severity="warning",
                    ),
                ],
            ),
            el(f"{m}.extension", slicing=slicing("url")),
            slice_entry(
                f"{m}.extension:change",
                0,
                "1",
                "How and why the line changed",
                type=ext_type(canon.FF_MEDICATION_CHANGE),
            ),
            el(
                drug,
                type=types("CodeableConcept"),
                short="The drug, by ATC and Danish drug id",
                constraint=[
                    inv(
                        "ff-medicationstatement-1",
                        "An ATC code is a valid ATC code of level 1-5",
                        f"coding.where(system = '{canon.ATC}').code.all(matches('{ATC_PATTERN}'))",
                    ),
                    inv(
                        "ff-medicationstatement-2",
                        "A Danish drug id consists of digits only",
                        f"coding.where(system = '{canon.DK_DRUG_ID}').code"
                        f".all(matches('{DRUG_ID_PATTERN}'))",
                    ),
                ],
            ),
            el(f"{drug}.coding", min=1, slicing=slicing("system")),
            *fixed_system_slice(
                f"{drug}.coding", "atc", canon.ATC, "ATC code of the drug", min_=1, code={"min": 1}
            ),
            *fixed_system_slice(
                f"{drug}.coding",
                "drugId",
                canon.DK_DRUG_ID,
                "Danish drug id (Lægemiddel-ID / DrugId as in FMK)",
                code={"min": 1},
            ),
            el(f"{m}.effective[x]", min=1),
            el(f"{m}.subject", type=ref(canon.DK_PATIENT)),
            el(
                f"{m}.informationSource",
                min=1,
                short="Who the information came from (FMK, the patient, a relative, a clinician)",
                type=ref(
                    canon.DK_PATIENT,
                    canon.DK_PRACTITIONER,
                    canon.DK_PRACTITIONER_ROLE,
                    canon.DK_RELATED_PERSON,
                    canon.DK_ORGANIZATION,
                ),
            ),
            el(f"{m}.dosage", min=1),
            el(f"{m}.dosage.text", min=1, short="The dosage as written on the medication card"),
        ],
    )


def all_resources() -> list[Json]:
    return [medication_change(), medication_statement()]
