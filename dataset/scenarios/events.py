"""What happened: Encounter (dk-core-encounter; a MedCom HospitalNotification ends as one) and
Observation (measurements and assessments made during the course)."""

from __future__ import annotations

from typing import Any

from dataset import build as b
from dataset import codes as c
from dataset.build import Json
from dataset.scenarios.scene import Scene

ENCOUNTER_CLASS = {
    "IMP": "indlæggelse",
    "AMB": "ambulant besøg",
    "HH": "hjemmebesøg",
}


def encounter(
    scene: Scene,
    local: str,
    subject: Json,
    class_code: str,
    kind: str,
    period: tuple[str, str | None],
    provider: Json,
    participants: list[Json],
    **extra: Any,
) -> Json:
    """A contact; ``kind`` is the Danish wording of its type, ``extra`` any further elements
    (basedOn, diagnosis, hospitalization)."""
    start, end = period
    when = f"{start} til {end}" if end else f"fra {start}"
    return scene.add(
        b.resource(
            "Encounter",
            scene.id(local),
            (
                f"{kind} ({ENCOUNTER_CLASS[class_code]}), {when}",
                f"Ansvarlig: {provider['display']}",
            ),
            status="finished" if end else "in-progress",
            class_=b.coding(c.ACT_CODE, class_code, ENCOUNTER_CLASS[class_code]),
            type=[b.concept(kind)],
            subject=subject,
            participant=[{"individual": p} for p in participants],
            period=b.period(start, end),
            serviceProvider=provider,
            **extra,
        )
    )


def quantity(value: float, unit: str, code: str) -> Json:
    return {"value": value, "unit": unit, "system": c.UCUM, "code": code}


def observation(
    scene: Scene,
    local: str,
    subject: Json,
    code: Json,
    when: str,
    performer: Json,
    category: str,
    encounter: Json | None = None,
    **value: Any,
) -> Json:
    """An observation; ``value`` is its value[x] (e.g. ``valueQuantity=…``) or ``component``."""
    shown = _shown(value)
    return scene.add(
        b.resource(
            "Observation",
            scene.id(local),
            f"{code['text']}: {shown} ({when[:10]}, {performer['display']})",
            status="final",
            category=[b.concept(category, b.coding(c.OBSERVATION_CATEGORY, category))],
            code=code,
            subject=subject,
            encounter=encounter,
            effectiveDateTime=when,
            performer=[performer],
            **value,
        )
    )


def _shown(value: dict[str, Any]) -> str:
    if "valueQuantity" in value:
        q = value["valueQuantity"]
        return f"{q['value']} {q['unit']}"
    if "valueCodeableConcept" in value:
        return str(value["valueCodeableConcept"]["text"])
    if "component" in value:
        return " / ".join(_shown(part) for part in value["component"])
    return str(next(iter(value.values())))


def blood_pressure(systolic: int, diastolic: int) -> dict[str, Any]:
    mmhg = ("mmHg", "mm[Hg]")
    return {
        "component": [
            {
                "code": b.concept("Systolisk blodtryk", b.coding(c.LOINC, "8480-6")),
                "valueQuantity": quantity(systolic, *mmhg),
            },
            {
                "code": b.concept("Diastolisk blodtryk", b.coding(c.LOINC, "8462-4")),
                "valueQuantity": quantity(diastolic, *mmhg),
            },
        ]
    }


BLOOD_PRESSURE = b.concept("Blodtryk", b.coding(c.LOINC, "85354-9", "Blood pressure panel"))
BODY_WEIGHT = b.concept("Vægt", b.coding(c.LOINC, "29463-7", "Body weight"))
BODY_TEMPERATURE = b.concept("Temperatur", b.coding(c.LOINC, "8310-5", "Body temperature"))
OXYGEN_SATURATION = b.concept(
    "Iltmætning", b.coding(c.LOINC, "59408-5", "Oxygen saturation by pulse oximetry")
)
CRP = b.concept("C-reaktivt protein (CRP)", b.coding(c.NPU, "NPU19748", "P—C-reaktivt protein"))
FUNCTIONAL_LEVEL = b.concept("Funktionsevnevurdering")
