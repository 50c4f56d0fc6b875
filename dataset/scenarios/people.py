"""The citizen and their relatives: Patient (dk-core-patient) and RelatedPerson."""

from __future__ import annotations

from dataset import build as b
from dataset import identifiers as ids
from dataset.build import Json
from dataset.geography import REGIONS, STREETS
from dataset.scenarios.scene import Person, Scene

MUNICIPALITY_EXTENSION = "http://hl7.dk/fhir/core/StructureDefinition/dk-core-municipalityCodes"
REGION_EXTENSION = "http://hl7.dk/fhir/core/StructureDefinition/dk-core-RegionalSubDivisionCodes"


def _address(scene: Scene) -> Json:
    m = scene.home.municipality.municipality
    region = REGIONS[m.region]
    street = scene.rng.choice(STREETS)
    return {
        "extension": [
            {
                "url": MUNICIPALITY_EXTENSION,
                "valueCodeableConcept": {
                    "coding": [b.coding(ids.MUNICIPALITY_SYSTEM, m.code, m.name)]
                },
            },
            {
                "url": REGION_EXTENSION,
                "valueCodeableConcept": {
                    "coding": [b.coding(ids.REGION_SYSTEM, region.code, region.name)]
                },
            },
        ],
        "use": "home",
        "line": [f"{street} {scene.rng.randrange(1, 150)}"],
        "city": m.town,
        "postalCode": m.postal_code,
        "country": "DK",
    }


def patient(scene: Scene, local: str, person: Person, *about: str) -> Json:
    gp = scene.home.gp
    return scene.add(
        b.resource(
            "Patient",
            scene.id(local),
            (f"{person.name.text}, født {person.birth:%d.%m.%Y}", *about),
            identifier=[b.cpr(person.cpr)],
            active=True,
            name=[person.name.human_name()],
            telecom=[{"system": "phone", "value": _phone(scene), "use": "mobile"}],
            gender=person.gender,
            birthDate=person.birth.isoformat(),
            address=[_address(scene)],
            generalPractitioner=[gp.sor_ref(), gp.of("doctor").ref()],
        )
    )


def _phone(scene: Scene) -> str:
    return str(scene.rng.randrange(20000000, 99999999))


def related_person(
    scene: Scene, local: str, person: Person, subject: Json, relation: str, *codes: Json
) -> Json:
    return scene.add(
        b.resource(
            "RelatedPerson",
            scene.id(local),
            f"{person.name.text}, {relation.lower()} til {subject['display']}",
            identifier=[b.cpr(person.cpr)],
            active=True,
            patient=subject,
            relationship=[b.concept(relation, *codes)],
            name=[person.name.human_name()],
            telecom=[{"system": "phone", "value": _phone(scene), "use": "mobile"}],
            gender=person.gender,
            birthDate=person.birth.isoformat(),
        )
    )
