"""``ValueSet/$expand``, ``ValueSet/$validate-code`` and ``CodeSystem/$lookup`` over the
bundled terminology (the R4 ValueSets and CodeSystems of required bindings and the Danish ones
in profiles/definitions), at type level (``url`` / ``system`` parameter) and for a stored
ValueSet or CodeSystem at instance level (by its ``url``); ``ConceptMap/$translate`` over the
bundled ConceptMaps at type level and over the stored map itself at instance level."""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server.errors import Invalid, NotFound, Unprocessable
from fhir_server.interactions.context import Context, FhirResult
from fhir_server.operations import Operation
from fhir_server.operations.inputs import Inputs


def _terminology() -> Any:
    from profiles.validation import Validator

    return Validator.default().terminology


async def _canonical(ctx: Context, type_: str, id_: str | None, inputs: Inputs, name: str) -> str:
    """The canonical URL the operation is about: the instance's ``url``, or the parameter."""
    if id_ is not None:
        stored = await ctx.read(type_, id_)
        if stored is None or stored.deleted:
            raise NotFound(f"{type_}/{id_} does not exist", [f"{type_}/{id_}"])
        url = orjson.loads(stored.content or b"{}").get("url")
        if not isinstance(url, str):
            raise Unprocessable(f"{type_}/{id_} has no url", [f"{type_}.url"])
        return url
    url = inputs.value(name, "Uri", "Canonical")
    if not isinstance(url, str) or not url:
        raise Invalid(f"${'expand' if type_ == 'ValueSet' else 'lookup'} needs {name!r}", [name])
    return url


def _int(inputs: Inputs, name: str) -> int | None:
    raw = inputs.value(name, "Integer")
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be a whole number, not {raw!r}", [name]) from None
    if value < 0:
        raise Invalid(f"{name} must not be negative", [name])
    return value


def _terminology_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from profiles.terminology import NotEnumerable, UnknownCodeSystem, UnknownValueSet

    try:
        return fn(*args, **kwargs)
    except (UnknownValueSet, UnknownCodeSystem) as err:
        raise NotFound(str(err)) from None
    except NotEnumerable as err:  # e.g. a ValueSet over SNOMED CT, which is not bundled
        raise Unprocessable(str(err)) from None


async def expand(ctx: Context, inputs: Inputs, type_: str | None, id_: str | None) -> FhirResult:
    url = await _canonical(ctx, "ValueSet", id_, inputs, "url")
    flt = inputs.value("filter", "String")
    out = _terminology_call(
        _terminology().expand,
        url,
        filter=flt,
        count=_int(inputs, "count"),
        offset=_int(inputs, "offset") or 0,
        display_language=inputs.value("displayLanguage", "Code"),
        include_designations=_boolean(inputs, "includeDesignations"),
    )
    return FhirResult(200, body=orjson.dumps(out))


def _coding(inputs: Inputs) -> tuple[str | None, str | None, str | None]:
    """(code, system, display) from ``code``/``system``/``display``, ``coding`` or the first
    coding of ``codeableConcept``."""
    code = inputs.value("code", "Code")
    if code is not None:
        return code, inputs.value("system", "Uri"), inputs.value("display", "String")
    coding = inputs.value("coding", "Coding")
    if coding is None:
        concept = inputs.value("codeableConcept", "CodeableConcept") or {}
        coding = (concept.get("coding") or [None])[0] if isinstance(concept, dict) else None
    if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
        raise Invalid("$validate-code needs code, coding or codeableConcept", ["code"])
    return coding["code"], coding.get("system"), coding.get("display")


async def validate_code(
    ctx: Context, inputs: Inputs, type_: str | None, id_: str | None
) -> FhirResult:
    url = await _canonical(ctx, "ValueSet", id_, inputs, "url")
    code, system, display = _coding(inputs)
    verdict = _terminology_call(_terminology().validate_code, url, system, code, display)
    params: list[dict[str, Any]] = [{"name": "result", "valueBoolean": bool(verdict.result)}]
    if verdict.message:
        params.append({"name": "message", "valueString": verdict.message})
    if verdict.display:
        params.append({"name": "display", "valueString": verdict.display})
    return FhirResult(200, body=orjson.dumps({"resourceType": "Parameters", "parameter": params}))


async def lookup(ctx: Context, inputs: Inputs, type_: str | None, id_: str | None) -> FhirResult:
    system = await _canonical(ctx, "CodeSystem", id_, inputs, "system")
    code = inputs.value("code", "Code")
    if code is None:
        coding = inputs.value("coding", "Coding") or {}
        code = coding.get("code") if isinstance(coding, dict) else None
        system = coding.get("system", system) if isinstance(coding, dict) else system
    if not isinstance(code, str):
        raise Invalid("$lookup needs a code", ["code"])
    found = _terminology_call(_terminology().lookup, system, code)
    if found is None:
        raise NotFound(f"Code {code!r} is not in CodeSystem {system}", ["code"])
    return FhirResult(200, body=orjson.dumps(found.to_parameters()))


EXPAND = Operation(
    "expand",
    frozenset({"type", "instance"}),
    frozenset({"ValueSet"}),
    expand,
    definition="http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
)
VALIDATE_CODE = Operation(
    "validate-code",
    frozenset({"type", "instance"}),
    frozenset({"ValueSet"}),
    validate_code,
    definition="http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code",
)
LOOKUP = Operation(
    "lookup",
    frozenset({"type", "instance"}),
    frozenset({"CodeSystem"}),
    lookup,
    definition="http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup",
)


def _bundled_maps() -> dict[str, Any]:
    from profiles.validation import Validator

    maps: dict[str, Any] = Validator.default().library.concept_maps
    return maps


async def _maps_for(
    ctx: Context, inputs: Inputs, id_: str | None, reverse: bool
) -> list[dict[str, Any]]:
    """The ConceptMaps to translate with: the stored one (instance level), the one given in
    ``conceptMap`` or named by ``url``, else the bundled maps between ``source`` and ``target``
    (swapped when ``reverse``)."""
    from profiles.terminology.translation import maps_between

    if id_ is not None:
        stored = await ctx.read("ConceptMap", id_)
        if stored is None or stored.deleted:
            raise NotFound(f"ConceptMap/{id_} does not exist", [f"ConceptMap/{id_}"])
        return [orjson.loads(stored.content or b"{}")]
    given = inputs.resource("conceptMap")
    if given is not None:
        if given.get("resourceType") != "ConceptMap":
            raise Invalid("conceptMap must be a ConceptMap", ["conceptMap"])
        return [given]
    bundled = _bundled_maps()
    url = inputs.value("url", "Uri")
    if url is not None:
        found = bundled.get(str(url).partition("|")[0])
        if found is None:
            raise NotFound(f"No ConceptMap {url} is known", ["url"])
        return [found]
    source, target = inputs.value("source", "Uri"), inputs.value("target", "Uri")
    if reverse:
        source, target = target, source
    return maps_between(bundled.values(), source, target)


def _boolean(inputs: Inputs, name: str) -> bool:
    raw = inputs.value(name, "Boolean")
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    if raw in ("true", "false"):
        return raw == "true"
    raise Invalid(f"{name} must be true or false, not {raw!r}", [name])


async def translate(ctx: Context, inputs: Inputs, type_: str | None, id_: str | None) -> FhirResult:
    """R4 ``ConceptMap/$translate``: the code (``code`` + ``system``, ``coding`` or the first
    coding of ``codeableConcept``) mapped by the chosen maps, optionally to ``targetsystem``."""
    from profiles.terminology.translation import translate as run
    from profiles.terminology.translation import translation_result

    code = inputs.value("code", "Code")
    system = inputs.value("system", "Uri")
    if code is None:
        coding = inputs.value("coding", "Coding")
        if coding is None:
            concept = inputs.value("codeableConcept", "CodeableConcept") or {}
            codings = concept.get("coding") if isinstance(concept, dict) else None
            coding = codings[0] if isinstance(codings, list) and codings else None
        if isinstance(coding, dict):
            code, system = coding.get("code"), coding.get("system")
    if not isinstance(code, str) or not code:
        raise Invalid("$translate needs code (with system), coding or codeableConcept", ["code"])
    if not isinstance(system, str) or not system:
        raise Invalid("$translate needs the system of the code", ["system"])
    reverse = _boolean(inputs, "reverse")
    target_system = inputs.value("targetsystem", "Uri")
    maps = await _maps_for(ctx, inputs, id_, reverse)
    matches = [m for cm in maps for m in run(cm, code, system, target_system, reverse)]
    return FhirResult(200, body=orjson.dumps(translation_result(matches)))


TRANSLATE = Operation(
    "translate",
    frozenset({"type", "instance"}),
    frozenset({"ConceptMap"}),
    translate,
    definition="http://hl7.org/fhir/OperationDefinition/ConceptMap-translate",
)
