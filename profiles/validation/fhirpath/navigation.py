"""Walking plain FHIR JSON for FHIRPath: member access (choice elements by type suffix,
primitives with only extensions), type tests decidable on JSON, and ``resolve()`` without I/O."""

from __future__ import annotations

import re
from typing import Any

from profiles.validation.fhirpath.runtime import Env, Items
from profiles.validation.fhirpath.values import NoValue, Unsupported


def navigate(items: Items, name: str, choice: bool, suffixes: frozenset[str]) -> Items:
    """The children called ``name`` of every item (choice ``name[x]`` matched by suffix)."""
    out: Items = []
    for item in items:
        if not isinstance(item, dict):
            continue
        value = item.get(name)
        if value is None:
            ext = item.get("_" + name)
            if isinstance(ext, dict):
                out.append(NoValue(ext))
            elif isinstance(ext, list):
                out.extend(NoValue(e) for e in ext if isinstance(e, dict))
            elif choice:
                for key, typed in item.items():
                    if key.startswith(name) and key[len(name) :] in suffixes:
                        out.extend(typed if isinstance(typed, list) else [typed])
        elif isinstance(value, list):
            if None in value:
                ext = item.get("_" + name) or []
                for i, v in enumerate(value):
                    if v is not None:
                        out.append(v)
                    elif i < len(ext) and isinstance(ext[i], dict):
                        out.append(NoValue(ext[i]))
            else:
                out.extend(value)
        else:
            out.append(value)
    return out


def type_or_member(items: Items, name: str, choice: bool, suffixes: frozenset[str]) -> Items:
    """A leading type name (``Patient.name``) selects resources of that type."""
    typed = [i for i in items if isinstance(i, dict) and i.get("resourceType") == name]
    return typed or navigate(items, name, choice, suffixes)


_NOT_DOMAIN = frozenset({"Bundle", "Binary", "Parameters"})


def is_type(value: Any, type_name: str) -> bool:
    """Type tests decidable on plain JSON: resources by resourceType, booleans; else Unsupported."""
    if isinstance(value, dict) and "resourceType" in value:
        actual = value["resourceType"]
        if type_name == "Resource":
            return True
        if type_name == "DomainResource":
            return actual not in _NOT_DOMAIN
        return bool(actual == type_name)
    if isinstance(value, bool):
        return type_name in ("boolean", "Boolean")
    raise Unsupported(f"type test {type_name} on {type(value).__name__}")


_LITERAL = re.compile(r"(?:.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?")


def resolve(item: Any, env: Env) -> Any:
    """``resolve()`` without I/O: ``#id`` finds the contained resource; in a Bundle (the resource
    being validated), a reference finds the entry it names, or nothing; elsewhere ``Type/id`` gives
    a stand-in holding only ``resourceType`` and ``id`` (enough for type tests); anything else is
    empty."""
    return resolve_in(item, env.root)


def resolve_in(item: Any, root: Any) -> Any:
    """``resolve()`` of ``item`` inside the resource ``root`` (`resolve`; for native checks)."""
    ref = item.get("reference") if isinstance(item, dict) else item
    if not isinstance(ref, str):
        return None
    if ref.startswith("#"):
        root = root if isinstance(root, dict) else {}
        if ref == "#":
            return root
        found = root.get("contained")
        for contained in found if isinstance(found, list) else []:
            if isinstance(contained, dict) and contained.get("id") == ref[1:]:
                return contained
        return None
    if isinstance(root, dict) and root.get("resourceType") == "Bundle":
        return _in_bundle(root, ref)  # inside a Bundle, a reference resolves to an entry or not
    m = _LITERAL.fullmatch(ref)
    if m is None:
        return None
    return {"resourceType": m.group(1), "id": m.group(2)}


def _in_bundle(bundle: dict[str, Any], ref: str) -> Any:
    """The entry resource a reference inside a Bundle names (bundle.html#references): by its
    ``fullUrl`` (``urn:uuid:…`` or absolute), or a relative ``Type/id`` by type and id (the
    server base of the entries is not compared: a message's entries share one)."""
    m = _LITERAL.fullmatch(ref)
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            continue
        resource = entry["resource"]
        if entry.get("fullUrl") == ref:
            return resource
        if (
            m is not None
            and "://" not in ref
            and resource.get("resourceType") == m.group(1)
            and resource.get("id") == m.group(2)
        ):
            return resource
    return None
