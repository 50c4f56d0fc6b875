"""Slicing: which slice a repeating value belongs to, and the slices' own rules.

Discriminators (profiling.html#discriminator): ``value`` and ``pattern`` (the slice fixes or
patterns the value at the path — ``identifier`` by ``system``, ``coding`` by ``system``,
``extension`` by ``url`` — or binds it ``required`` to a ValueSet), ``exists``, ``type`` and
``profile``. Paths are element names with ``extension('url')`` and ``ofType(T)`` steps;
``resolve()`` (discriminating on the referenced resource) needs I/O and is refused at compile
time. A value goes to the first slice whose discriminators all match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from profiles.terminology import Terminology, TerminologyError
from profiles.validation.checks import matches_pattern
from profiles.validation.fhirpath.navigation import navigate
from profiles.validation.rules import Matcher
from profiles.validation.snapshot import ElementNode, ProfileError
from profiles.validation.walker import Context, walk

Step = tuple[str, str]


@dataclass(frozen=True, slots=True)
class SliceEnv:
    """What compiling discriminators needs besides the slice: terminology (for bindings), the
    choice type suffixes (for navigation), and the snapshot of a type profile by URL (a slice
    typed with a profile may leave the fixed value at the path to that profile)."""

    terminology: Terminology
    suffixes: frozenset[str]
    type_profile: Callable[[str], ElementNode | None]


_EXTENSION_STEP = re.compile(r"extension\(\s*'([^']*)'\s*\)")
_TYPE_STEP = re.compile(r"ofType\(\s*([A-Za-z.]+)\s*\)")
_NAME_STEP = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\[x\])?")


# -- compiling discriminators ------------------------------------------------------------------


def parse_path(path: str) -> list[Step]:
    """A discriminator path as steps: ("name", n), ("key", json name), ("extension", url)."""
    if path == "$this":
        return []
    steps: list[Step] = []
    for token in _split(path):
        if m := _EXTENSION_STEP.fullmatch(token):
            steps.append(("extension", m.group(1)))
        elif m := _TYPE_STEP.fullmatch(token):
            if not steps or steps[-1][0] != "name":
                raise ProfileError(f"discriminator path {path!r}: ofType() must follow a name")
            type_name = m.group(1).rsplit(".", 1)[-1]
            steps[-1] = ("key", steps[-1][1] + type_name[0].upper() + type_name[1:])
        elif _NAME_STEP.fullmatch(token):
            steps.append(("name", token.removesuffix("[x]")))
        else:
            raise ProfileError(f"discriminator path {path!r} is not supported ({token})")
    return steps


def _split(path: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(path):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "." and depth == 0:
            parts.append(path[start:i])
            start = i + 1
    parts.append(path[start:])
    return parts


def collect(value: Any, steps: list[Step], suffixes: frozenset[str]) -> list[Any]:
    items = [value]
    for kind, arg in steps:
        if kind == "extension":
            items = [
                e
                for e in navigate(items, "extension", False, suffixes)
                if isinstance(e, dict) and e.get("url") == arg
            ]
        else:
            items = navigate(items, arg, kind == "name", suffixes)
    return items


def _node_at(node: ElementNode, steps: list[Step]) -> tuple[ElementNode | None, Any, str]:
    """The slice's element at ``steps`` — (node, None, "node") — or the fixed/pattern value of an
    element above it that covers the path — (None, value, "fixed" | "pattern") — or nothing —
    (None, None, "missing")."""
    for i, (kind, arg) in enumerate(steps):
        for prefix in ("fixed", "pattern"):
            found = typed_value(node.definition, prefix)
            if found is not None:
                return None, _dig(found, steps[i:]), prefix
        if kind == "extension":
            extensions = node.child("extension")
            slices = extensions.slices if extensions is not None else []
            child = next((s for s in slices if _extension_url(s) == arg), None)
        else:
            child = node.child(arg if kind == "name" else _choice_name(node, arg))
        if child is None:
            return None, None, "missing"
        node = child
    return node, None, "node"


def _choice_name(node: ElementNode, key: str) -> str:
    for child in node.children:
        base = child.choice_base
        if base and key.startswith(base):
            return base
    return key


def _dig(value: Any, steps: list[Step]) -> Any:
    items = [value]
    for _, arg in steps:
        nxt: list[Any] = []
        for item in items:
            if isinstance(item, dict) and arg in item:
                got = item[arg]
                nxt.extend(got if isinstance(got, list) else [got])
        items = nxt
    return items[0] if len(items) == 1 else (items or None)


def typed_value(definition: dict[str, Any], prefix: str) -> Any:
    for key, value in definition.items():
        if key.startswith(prefix) and key[len(prefix) : len(prefix) + 1].isupper():
            return value
    return None


def _extension_url(node: ElementNode) -> str | None:
    url_child = node.child("url")
    if url_child is not None:
        fixed = typed_value(url_child.definition, "fixed")
        if isinstance(fixed, str):
            return fixed
    for type_ in node.definition.get("type", []):
        if type_.get("code") == "Extension" and type_.get("profile"):
            return str(type_["profile"][0])
    return None


def build_matcher(
    discriminators: list[dict[str, Any]], slice_node: ElementNode, env: SliceEnv
) -> Matcher:
    if not discriminators:
        raise ProfileError(f"{slice_node.id}: slicing without a discriminator is not supported")
    tests = [_one(d, slice_node, env) for d in discriminators]
    if len(tests) == 1:
        return tests[0]
    return lambda item, key, ctx: all(t(item, key, ctx) for t in tests)


def _one(discriminator: dict[str, Any], slice_node: ElementNode, env: SliceEnv) -> Matcher:
    suffixes = env.suffixes
    kind, path = discriminator.get("type"), discriminator.get("path", "$this")
    steps = parse_path(path)
    where = f"{slice_node.id} (discriminator {kind} {path})"
    if kind in ("value", "pattern"):
        return _value_matcher(slice_node, steps, where, env)
    if kind == "exists":
        node, _, found = _node_at(slice_node, steps)
        if node is None or found != "node":
            raise ProfileError(f"{where}: no element at the path")
        must = node.definition.get("min", 0) > 0
        if not must and node.definition.get("max") != "0":
            raise ProfileError(f"{where}: the slice neither requires nor forbids the element")
        return lambda item, key, ctx: bool(collect(item, steps, suffixes)) == must
    if kind == "type":
        return _type_matcher(slice_node, steps, where)
    if kind == "profile":
        return _profile_matcher(slice_node, steps, where, suffixes)
    raise ProfileError(f"{where}: unknown discriminator type")


def _value_matcher(
    slice_node: ElementNode, steps: list[Step], where: str, env: SliceEnv
) -> Matcher:
    value, kind, binding = _expected(slice_node, steps)
    if value is None and binding is None:
        for url in _type_profiles(slice_node):
            root = env.type_profile(url)
            if root is not None:
                value, kind, binding = _expected(root, steps)
                if value is not None or binding is not None:
                    break
    if binding is not None:
        return _binding_matcher(binding, steps, env.terminology, env.suffixes, where)
    if value is None and steps == [("name", "url")]:
        value, kind = _extension_url(slice_node), "fixed"  # an extension slice: its profile
    if value is None:
        raise ProfileError(f"{where}: the slice has no fixed or pattern value at the path")
    expected, suffixes = value, env.suffixes
    if kind == "fixed":
        return lambda item, key, ctx: any(v == expected for v in collect(item, steps, suffixes))
    return lambda item, key, ctx: any(
        matches_pattern(v, expected) for v in collect(item, steps, suffixes)
    )


def _expected(node: ElementNode, steps: list[Step]) -> tuple[Any, str, str | None]:
    """(the value the slice fixes or patterns at the path, fixed | pattern, or the ValueSet it
    binds there ``required``)."""
    found, value, kind = _node_at(node, steps)
    if found is None:
        return value, kind, None
    for prefix in ("fixed", "pattern"):
        typed = typed_value(found.definition, prefix)
        if typed is not None:
            return typed, prefix, None
    binding = found.definition.get("binding") or {}
    if binding.get("strength") == "required" and binding.get("valueSet"):
        return None, "", str(binding["valueSet"])
    return None, "", None


def _type_profiles(node: ElementNode) -> list[str]:
    return [
        str(p)
        for t in node.definition.get("type", [])
        if t.get("code") != "Extension"
        for p in t.get("profile", [])
    ]


def _binding_matcher(
    value_set: str,
    steps: list[Step],
    terminology: Terminology,
    suffixes: frozenset[str],
    where: str,
) -> Matcher:
    try:
        content = terminology.content(value_set)
    except TerminologyError as exc:
        raise ProfileError(f"{where}: {exc}") from exc
    if not content.checkable:
        raise ProfileError(f"{where}: ValueSet {value_set} cannot be checked here")

    def codes(v: Any) -> list[tuple[str, str | None]]:
        if isinstance(v, str):
            return [(v, None)]
        if isinstance(v, dict) and "coding" in v:
            return [c for coding in v["coding"] for c in codes(coding)]
        if isinstance(v, dict) and isinstance(v.get("code"), str):
            return [(v["code"], v.get("system"))]
        return []

    return lambda item, key, ctx: any(
        content.contains(code, system) is True
        for v in collect(item, steps, suffixes)
        for code, system in codes(v)
    )


def _type_matcher(slice_node: ElementNode, steps: list[Step], where: str) -> Matcher:
    if steps:
        raise ProfileError(f"{where}: type discriminators are supported on $this only")
    wanted = {t["code"] for t in slice_node.definition.get("type", [])}

    def test(item: Any, key: str, ctx: Context) -> bool:
        if isinstance(item, dict) and "resourceType" in item:
            return item["resourceType"] in wanted
        base = slice_node.choice_base
        if base and key.startswith(base):
            suffix = key[len(base) :]
            return suffix in wanted or suffix[:1].lower() + suffix[1:] in wanted
        return False

    return test


def _profile_matcher(
    slice_node: ElementNode, steps: list[Step], where: str, suffixes: frozenset[str]
) -> Matcher:
    node, _, _ = _node_at(slice_node, steps)
    profiles = [
        p for t in (node or slice_node).definition.get("type", []) for p in t.get("profile", [])
    ]
    if not profiles:
        raise ProfileError(f"{where}: the slice names no profile")

    def conforms(value: Any, ctx: Context) -> bool:
        for url in profiles:
            rule = ctx.validator.profile_rule(url)
            if rule is None or not isinstance(value, dict):
                continue
            trial = Context(ctx.validator, ctx.resource)
            trial.root = ctx.root
            walk(rule, value, "", trial)
            if not any(i.severity == "error" for i in trial.issues):
                return True
        return False

    def test(item: Any, key: str, ctx: Context) -> bool:
        return any(conforms(v, ctx) for v in collect(item, steps, suffixes))

    return test
