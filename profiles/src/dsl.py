"""A small vocabulary for writing conformance resources as Python data.

Profiles are written as differentials: ``el("Patient.identifier", min=1, ...)`` is one
differential ElementDefinition (``id`` given, ``path`` derived by the build). Keyword names are
the ElementDefinition JSON names, so what is written here is what ends up in the JSON. The helpers
only remove repetition (reference types, bindings, invariants, resource headers); they add no
meaning of their own, which keeps the authored text reviewable against the FHIR spec.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from profiles.src import canon

Json = dict[str, Any]


@dataclass(frozen=True)
class Owner:
    """Who a definition belongs to: canonical base, business version and publication status."""

    base: str
    version: str
    status: str


DK_CORE = Owner(canon.DK_CORE, canon.DK_CORE_VERSION, "active")
FF = Owner(canon.FF, canon.FF_VERSION, "draft")
MEDCOM = Owner(canon.MEDCOM_TERMINOLOGY, "1.9.0", "active")


# --- element definitions ----------------------------------------------------------------------


def el(id_: str, **props: Any) -> Json:
    """One differential element; ``props`` are ElementDefinition properties by their JSON name."""
    return {"id": id_, **props}


def ref(*targets: str) -> list[Json]:
    """``type`` of a Reference restricted to the given profiles/resources (canonical URLs)."""
    return [{"code": "Reference", "targetProfile": list(targets)}]


def ext_type(url: str) -> list[Json]:
    return [{"code": "Extension", "profile": [url]}]


def types(*codes: str) -> list[Json]:
    return [{"code": code} for code in codes]


def binding(strength: str, value_set: str, description: str) -> Json:
    return {"strength": strength, "description": description, "valueSet": value_set}


def inv(key: str, human: str, expression: str, severity: str = "error") -> Json:
    """An invariant. ``human`` says what is wrong in words a clinician's system can show."""
    return {"key": key, "severity": severity, "human": human, "expression": expression}


def slicing(path: str, kind: str = "value", description: str | None = None) -> Json:
    """Open, unordered slicing on one discriminator (the only kind these profiles use)."""
    out: Json = {"discriminator": [{"type": kind, "path": path}]}
    if description:
        out["description"] = description
    out["ordered"] = False
    out["rules"] = "open"
    return out


def slice_entry(id_: str, min_: int, max_: str, short: str, **props: Any) -> Json:
    """The entry element of a slice (``Patient.identifier:cpr``); cardinality is always given."""
    return el(id_, sliceName=id_.rsplit(":", 1)[1], short=short, min=min_, max=max_, **props)


def fixed_system_slice(
    base: str, name: str, system: str, short: str, *, min_: int = 0, max_: str = "1", **more: Any
) -> list[Json]:
    """A slice of a sliced ``identifier`` / ``coding`` list matched by a fixed ``system``.

    ``more`` maps a child name (``use``, ``value``, ``code``) to the properties of that child.
    """
    entry = f"{base}:{name}"
    out = [
        slice_entry(entry, min_, max_, short),
        el(f"{entry}.system", min=1, fixedUri=system),
    ]
    for child, props in more.items():
        out.append(el(f"{entry}.{child}", **props))
    return out  # the build puts differential elements in snapshot order


# --- resource headers -------------------------------------------------------------------------


def _header(resource_type: str, owner: Owner, id_: str, name: str, title: str, desc: str) -> Json:
    return {
        "resourceType": resource_type,
        "id": id_,
        "url": f"{owner.base}/{resource_type}/{id_}",
        "version": owner.version,
        "name": name,
        "title": title,
        "status": owner.status,
        "experimental": False,
        "date": canon.DATE,
        "publisher": canon.PUBLISHER,
        "description": desc,
        "jurisdiction": canon.JURISDICTION,
    }


def profile(
    owner: Owner,
    id_: str,
    type_: str,
    name: str,
    title: str,
    description: str,
    elements: list[Json],
    purpose: str | None = None,
) -> Json:
    """A constraint StructureDefinition on an R4 resource (differential only; the build adds the
    snapshot)."""
    sd = _header("StructureDefinition", owner, id_, name, title, description)
    if purpose:
        sd["purpose"] = purpose
    sd.update(
        {
            "fhirVersion": canon.FHIR_VERSION,
            "kind": "resource",
            "abstract": False,
            "type": type_,
            "baseDefinition": canon.r4(type_),
            "derivation": "constraint",
            "differential": {"element": elements},
        }
    )
    return sd


def extension(
    owner: Owner,
    id_: str,
    name: str,
    title: str,
    description: str,
    contexts: list[str],
    elements: list[Json],
) -> Json:
    """An Extension definition used on the given element paths."""
    sd = _header("StructureDefinition", owner, id_, name, title, description)
    sd.update(
        {
            "fhirVersion": canon.FHIR_VERSION,
            "kind": "complex-type",
            "abstract": False,
            "context": [{"type": "element", "expression": c} for c in contexts],
            "type": "Extension",
            "baseDefinition": canon.r4("Extension"),
            "derivation": "constraint",
        }
    )
    url = sd["url"]
    root = el("Extension", short=title, definition=description)
    body = [e for e in elements if e["id"] != "Extension"]
    url_el = el("Extension.url", fixedUri=url)
    sd["differential"] = {"element": [root, *_with_url(body, url_el)]}
    return sd


def _with_url(body: list[Json], url_el: Json) -> list[Json]:
    """``Extension.url`` goes after the nested extensions and before ``Extension.value[x]``."""
    before = [e for e in body if not e["id"].startswith("Extension.value[x]")]
    after = [e for e in body if e["id"].startswith("Extension.value[x]")]
    return [*before, url_el, *after]


def simple_extension(
    owner: Owner,
    id_: str,
    name: str,
    title: str,
    description: str,
    contexts: list[str],
    value: Json,
) -> Json:
    """An extension with one value and no nested extensions; ``value`` holds the properties of
    ``Extension.value[x]`` (its type, binding, …)."""
    elements = [
        el("Extension.extension", max="0"),
        el("Extension.value[x]", min=1, **value),
    ]
    return extension(owner, id_, name, title, description, contexts, elements)


# --- terminology -------------------------------------------------------------------------------


def concept(
    code: str, display: str, danish: str | None = None, definition: str | None = None
) -> Json:
    out: Json = {"code": code, "display": display}
    if definition:
        out["definition"] = definition
    if danish:
        out["designation"] = [{"language": "da", "value": danish}]
    return out


def code_system(
    owner: Owner,
    id_: str,
    name: str,
    title: str,
    description: str,
    concepts: list[Json],
    *,
    value_set: str | None = None,
    properties: list[Json] | None = None,
    case_sensitive: bool = True,
) -> Json:
    cs = _header("CodeSystem", owner, id_, name, title, description)
    cs["caseSensitive"] = case_sensitive
    if value_set:
        cs["valueSet"] = value_set
    cs["content"] = "complete"
    cs["count"] = len(concepts)
    if properties:
        cs["property"] = properties
    cs["concept"] = concepts
    return cs


def value_set(
    owner: Owner,
    id_: str,
    name: str,
    title: str,
    description: str,
    includes: list[Json],
    *,
    expansion: list[Json] | None = None,
) -> Json:
    """A ValueSet; ``expansion`` (system/code/display rows) is added for small, fully
    enumerated sets so a client can use them without a terminology server."""
    vs = _header("ValueSet", owner, id_, name, title, description)
    vs["immutable"] = False
    vs["compose"] = {"include": includes}
    if expansion is not None:
        vs["expansion"] = {
            "identifier": f"urn:uuid:{_expansion_id(vs['url'], vs['version'])}",
            "timestamp": canon.DATE,
            "total": len(expansion),
            "contains": expansion,
        }
    return vs


def _expansion_id(url: str, version: str) -> str:
    """A stable expansion identifier, so rebuilding does not change the file."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{url}|{version}"))


def include_system(system: str) -> Json:
    return {"system": system}


def include_concepts(system: str, concepts: list[tuple[str, str]]) -> Json:
    return {"system": system, "concept": [{"code": c, "display": d} for c, d in concepts]}


def expansion_of(system: str, concepts: list[Json]) -> list[Json]:
    return [{"system": system, "code": c["code"], "display": c["display"]} for c in concepts]


def search_parameter(
    owner: Owner,
    id_: str,
    code: str,
    base: str,
    type_: str,
    expression: str,
    description: str,
    target: list[str] | None = None,
) -> Json:
    name = "".join(part.capitalize() for part in id_.split("-"))
    sp = _header("SearchParameter", owner, id_, name, name, description)
    del sp["title"]  # SearchParameter has no title in R4
    sp.update(
        {
            "code": code,
            "base": [base],
            "type": type_,
            "expression": expression,
            "xpathUsage": "normal",
            # this server's own parameters: active, so they take effect when installed
            "status": "active",
        }
    )
    if target:
        sp["target"] = target
    return sp


# --- concept maps ------------------------------------------------------------------------------


def map_group(source: str, target: str, elements: list[Json]) -> Json:
    """One ``ConceptMap.group``: codes of ``source`` mapped to codes of ``target``."""
    return {"source": source, "target": target, "element": elements}


def map_element(
    code: str, display: str, targets: list[tuple[str, str, str]], comment: str | None = None
) -> Json:
    """A source code and its targets as (code, display, equivalence)."""
    out: list[Json] = []
    for target_code, target_display, equivalence in targets:
        target: Json = {"code": target_code, "display": target_display}
        target["equivalence"] = equivalence
        if comment:
            target["comment"] = comment
        out.append(target)
    return {"code": code, "display": display, "target": out}


def concept_map(
    owner: Owner,
    id_: str,
    name: str,
    title: str,
    description: str,
    source: str,
    target: str,
    groups: list[Json],
    purpose: str | None = None,
) -> Json:
    """A ConceptMap from ValueSet ``source`` to ValueSet ``target`` (R4 ``sourceUri`` and
    ``targetUri``: canonicals of ValueSets)."""
    cm = _header("ConceptMap", owner, id_, name, title, description)
    if purpose:
        cm["purpose"] = purpose
    cm["sourceUri"] = source
    cm["targetUri"] = target
    cm["group"] = groups
    return cm
