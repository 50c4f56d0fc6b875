"""Authored sources of the Danish conformance resources.

Each module returns plain FHIR JSON (dicts): StructureDefinitions as differentials, ValueSets,
CodeSystems and SearchParameters. ``scripts/build_profiles.py`` adds the snapshots and writes
``profiles/definitions/``. Nothing here is imported at server run time.
"""

from __future__ import annotations

from profiles.src import (
    dk_core_clinical,
    dk_core_extensions,
    dk_core_people,
    ff_care,
    ff_consent,
    ff_medication,
    medcom_conceptmaps,
    medcom_core,
    medcom_messages,
    medcom_messaging,
    medcom_terminology,
    search_parameters,
    terminology_dk,
    terminology_ff,
)
from profiles.src.dsl import Json

MODULES = (
    dk_core_people,
    dk_core_clinical,
    dk_core_extensions,
    ff_care,
    ff_medication,
    ff_consent,
    terminology_dk,
    terminology_ff,
    search_parameters,
    medcom_terminology,
    medcom_core,
    medcom_messaging,
    medcom_messages,
    medcom_conceptmaps,
)


def authored_resources() -> list[Json]:
    """Every authored resource, in a fixed order (StructureDefinitions without snapshots)."""
    return [resource for module in MODULES for resource in module.all_resources()]
