"""The Patient compartment, stated once: which parameters put a resource type in a patient's
compartment (`params`, from R4 CompartmentDefinition/patient) and whether a resource is in one
(`in_compartment`, reading references as the search index does). Compartment search asks the
first; access decisions and ``$everything`` ask the second — so a resource a compartment
search finds is exactly one access admits as the patient's."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import orjson

from fhir_server.references import local_targets
from fhir_server.search.fhirpath import Evaluator, compile_expression
from fhir_server.search.registry import builtin_params, patient_compartment
from fhir_server.stored import StoredResource


def params(owner: str, type_: str) -> tuple[str, ...]:
    """The reference parameters that put a ``type_`` in an ``owner`` compartment; empty when it
    has none (only the Patient compartment is served)."""
    return patient_compartment().get(type_, ()) if owner == "Patient" else ()


_ENCOUNTER: dict[str, tuple[str, ...]] = {
    "CarePlan": ("encounter",),
    "CareTeam": ("encounter",),
    "ChargeItem": ("context",),
    "Claim": ("encounter",),
    "ClinicalImpression": ("encounter",),
    "Communication": ("encounter",),
    "CommunicationRequest": ("encounter",),
    "Composition": ("encounter",),
    "Condition": ("encounter",),
    "DeviceRequest": ("encounter",),
    "DiagnosticReport": ("encounter",),
    "DocumentReference": ("encounter",),
    "ExplanationOfBenefit": ("encounter",),
    "List": ("encounter",),
    "Media": ("encounter",),
    "MedicationAdministration": ("context",),
    "MedicationRequest": ("encounter",),
    "NutritionOrder": ("encounter",),
    "Observation": ("encounter",),
    "Procedure": ("encounter",),
    "QuestionnaireResponse": ("encounter",),
    "RequestGroup": ("encounter",),
    "RiskAssessment": ("encounter",),
    "ServiceRequest": ("encounter",),
    "VisionPrescription": ("encounter",),
}
"""R4 CompartmentDefinition/encounter: type → the parameters that put a resource in an
Encounter's compartment (the Encounter itself is its own member). Only ``Encounter/[id]/
$everything`` asks it (`encounter_params`); compartment search serves the Patient's only."""


def encounter_params(type_: str) -> tuple[str, ...]:
    """The reference parameters that put a ``type_`` in an Encounter's compartment (those of
    them this server knows for the type); empty when it has none."""
    known = builtin_params(type_)
    return tuple(p for p in _ENCOUNTER.get(type_, ()) if p in known)


def has_compartment(type_: str) -> bool:
    """Whether a ``type_`` resource can be in a patient's compartment (a Patient is its own)."""
    return type_ == "Patient" or bool(params("Patient", type_))


@cache
def _evaluators(type_: str) -> tuple[Evaluator, ...]:
    known = builtin_params(type_)
    return tuple(
        compile_expression(known[p].expression or "", type_)
        for p in params("Patient", type_)
        if p in known and known[p].expression
    )


def in_compartment(type_: str, resource: dict[str, Any], patient: str) -> bool:
    """Whether ``resource`` is in ``Patient/patient``'s compartment: the Patient itself, or a
    compartment parameter refers to it."""
    if type_ == "Patient" and resource.get("id") == patient:
        return True
    return any(
        target == ("Patient", patient)
        for evaluate in _evaluators(type_)
        for target in local_targets(evaluate(resource))
    )


_OWNER_PARAMS = ("patient", "subject")
"""The compartment parameters that name *the* patient a resource is about (R4 names them so in
CompartmentDefinition/patient), in order of preference: ``patient`` is ``subject`` narrowed to
Patients where a type has both. The others (performer, recipient, …) name other roles."""


@cache
def owner_param(type_: str) -> str | None:
    """The parameter naming the patient a ``type_`` resource is about — ``_id`` for a Patient —
    or None when the type has no patient compartment. One per type, so a search can be narrowed
    to "about one of these patients" by one parameter, exactly as `owners` reads a resource.

    ``patient`` or ``subject`` where the compartment names them; else the type's own
    ``patient`` parameter (an Appointment's or AppointmentResponse's Patient actor, a
    Coverage's beneficiary, a ResearchSubject's individual), so these count as about their
    patient (consent guards them; a citizen writes only their own). A Group (members) and a
    Schedule (actors) are in the compartment of each Patient they name, but about none of them:
    a practitioner's Schedule, a Group of practitioners, must not need a citizen."""
    if type_ == "Patient":
        return "_id"
    found = params("Patient", type_)
    if not found:
        return None
    named = next((p for p in _OWNER_PARAMS if p in found), None)
    if named is None and "patient" in builtin_params(type_):
        named = "patient"
    return named


@cache
def _owner_evaluator(type_: str) -> Evaluator | None:
    param = owner_param(type_)
    known = builtin_params(type_)
    if param is None or param == "_id" or param not in known:
        return None
    return compile_expression(known[param].expression or "", type_)


def owners(type_: str, resource: dict[str, Any]) -> frozenset[str]:
    """The ids of the patients ``resource`` is about (by `owner_param`): the Patient itself, or
    those its ``patient``/``subject`` refers to; empty for a resource about no patient."""
    if type_ == "Patient":
        id_ = resource.get("id")
        return frozenset((id_,)) if isinstance(id_, str) else frozenset()
    evaluate = _owner_evaluator(type_)
    if evaluate is None:
        return frozenset()
    return frozenset(i for t, i in local_targets(evaluate(resource)) if t == "Patient")


def patients(type_: str, resource: dict[str, Any]) -> set[str]:
    """The ids of every patient whose compartment holds ``resource`` (the Patient itself, and
    each patient a compartment parameter refers to): whose data it is, for the audit."""
    found = (
        {resource["id"]} if type_ == "Patient" and isinstance(resource.get("id"), str) else set()
    )
    for evaluate in _evaluators(type_):
        found |= {id_ for t, id_ in local_targets(evaluate(resource)) if t == "Patient"}
    return found


class VersionMemo:
    """``of(stored)``: a function of one version's content — which patients it is about —
    remembered for the last few thousand versions (a version never changes), so repeated reads
    of the same resources parse nothing. A version without content (a deletion) gives none."""

    def __init__(
        self, fn: Callable[[str, dict[str, Any]], Iterable[str]], size: int = 4096
    ) -> None:
        self.fn = fn
        self.size = size
        self.known: OrderedDict[tuple[str, str, int, int], frozenset[str]] = OrderedDict()

    def of(self, stored: StoredResource) -> frozenset[str]:
        if stored.content is None:
            return frozenset()
        key = (stored.type, stored.id, stored.version, stored.ts)  # a rolled-back version's
        # number may be written again with other content, never at the same instant
        found = self.known.get(key)
        if found is None:
            found = frozenset(self.fn(stored.type, orjson.loads(stored.content)))
            self.known[key] = found
            if len(self.known) > self.size:
                self.known.popitem(last=False)
        return found


PATIENTS_OF = VersionMemo(patients)
"""Every patient whose compartment holds a version (the audit's "whose data")."""
OWNERS_OF = VersionMemo(owners)
"""The patients a version is about (consent's question)."""
