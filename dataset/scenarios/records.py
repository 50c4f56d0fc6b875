"""Clinical records: Condition (dk-core-condition) and the medication card line
(ff-medicationstatement); encounters and observations live in `events`."""

from __future__ import annotations

from typing import Any

from dataset import build as b
from dataset import codes as c
from dataset.build import Json
from dataset.scenarios.scene import Scene


def condition(
    scene: Scene,
    local: str,
    subject: Json,
    diagnosis: c.Diagnosis,
    asserter: Json,
    onset: int,
    category: str = "encounter-diagnosis",
) -> Json:
    return scene.add(
        b.resource(
            "Condition",
            scene.id(local),
            f"{diagnosis.text} ({diagnosis.code}) siden {scene.day(onset)}",
            clinicalStatus=b.concept("Aktiv", b.coding(c.CONDITION_CLINICAL, "active")),
            verificationStatus=b.concept(
                "Bekræftet", b.coding(c.CONDITION_VERIFICATION, "confirmed")
            ),
            category=[b.concept(category, b.coding(c.CONDITION_CATEGORY, category))],
            code=diagnosis.concept(),
            subject=subject,
            onsetDateTime=scene.day(onset),
            recordedDate=scene.day(onset),
            asserter=asserter,
        )
    )


CHANGE_STATUS = {
    "new": "active",
    "changed": "active",
    "unchanged": "active",
    "paused": "on-hold",
    "discontinued": "stopped",
}
CHANGE_TEXT = {
    "new": "Ny",
    "changed": "Ændret",
    "unchanged": "Uændret",
    "paused": "Pauseret",
    "discontinued": "Seponeret",
}


def medication(
    scene: Scene,
    local: str,
    subject: Json,
    drug: c.Drug,
    source: Json,
    asserted: int,
    change: str,
    reason: str | None = None,
    context: Json | None = None,
    dosage: str | None = None,
) -> Json:
    """A line of the medication card (FMK) as a MedicationStatement, with what changed and why."""
    dose = dosage or drug.dosages[0]
    extension: list[Json] = [{"url": "type", "valueCode": change}]
    if reason:
        extension.append({"url": "reason", "valueString": reason})
    start = asserted if change == "new" else asserted - 200 - scene.rng.randrange(1500)
    effective: dict[str, Any] = {"start": scene.day(start)}
    if change == "discontinued":
        effective["end"] = scene.day(asserted)
    text = f"{drug.name} ({drug.atc}): {dose}. {CHANGE_TEXT[change]}" + (
        f": {reason}" if reason else "."
    )
    return scene.add(
        b.resource(
            "MedicationStatement",
            scene.id(local),
            text,
            extension=[{"url": c.MEDICATION_CHANGE, "extension": extension}],
            status=CHANGE_STATUS[change],
            medicationCodeableConcept=drug.concept(),
            subject=subject,
            context=context,
            effectivePeriod=effective,
            dateAsserted=scene.day(asserted),
            informationSource=source,
            dosage=[{"text": dose}],
        )
    )
