"""Compile a profile (a constraining StructureDefinition) into rules holding only what it adds.

Each snapshot element is compared with its R4 definition (``base.path``): a tighter cardinality,
fewer types, narrower reference targets, fixed/pattern values, a new or changed required binding,
maxLength/minValue/maxValue, constraints with new keys, slicing. Elements adding nothing (and
with no descendant that does) are left out, so the profile pass walks only constrained paths;
the strict base pass has already checked everything else. Type profiles on data types
(``Identifier`` with a dk-core identifier profile) are applied by URL while walking; extension
profiles are applied to every extension by its ``url`` in the base pass.
"""

from __future__ import annotations

from typing import Any

from profiles.validation.checks import (
    binding_check,
    fixed_check,
    limit_check,
    max_length_check,
    pattern_check,
    reference_check,
)
from profiles.validation.compile_base import INLINE, R4, Definitions, cap, max_of, type_code
from profiles.validation.invariants import compile_invariants
from profiles.validation.rules import ComplexRule, ElementRule, Slice, Slicing, TypeRule
from profiles.validation.slicing import SliceEnv, build_matcher, typed_value
from profiles.validation.snapshot import ElementNode, ProfileError, parse_snapshot


class ProfileCompiler:
    def __init__(self, definitions: Definitions, suffixes: frozenset[str]):
        self._d = definitions
        self._slice_env = SliceEnv(definitions.terminology, suffixes, self._snapshot_root)
        self._roots: dict[str, ElementNode | None] = {}

    def _snapshot_root(self, url: str) -> ElementNode | None:
        """The parsed snapshot of a loaded StructureDefinition (type profiles of slices)."""
        if url not in self._roots:
            sd = self._d.library.structure_definition(url)
            self._roots[url] = parse_snapshot(sd) if sd is not None else None
        return self._roots[url]

    def compile(self, sd: dict[str, Any]) -> ComplexRule:
        if sd.get("derivation") != "constraint":
            raise ProfileError(f"{sd.get('url')} is not a profile (derivation constraint)")
        if self._d.r4_sd(sd["type"]) is None:
            raise ProfileError(f"{sd['url']} constrains {sd['type']}, which is not bundled")
        tree = parse_snapshot(sd)
        url = sd["url"]
        rule = ComplexRule(sd["type"], False, url, is_resource=sd.get("kind") == "resource")
        self._fill(rule, tree, url, sd)
        base = self._d.r4_element(tree.definition)
        fallback = None if rule.is_resource else sd["type"]
        rule.invariants = compile_invariants(
            _own_constraints(tree.definition),
            self._d.engine,
            fallback,
            url,
            _constraint_keys(base),
        )
        return rule

    def _fill(self, rule: ComplexRule, node: ElementNode, url: str, sd: dict[str, Any]) -> None:
        required = []
        for child in node.children:
            element = self._element(child, url, sd)
            if element is None:
                continue
            for key in element.presence_keys:
                if not key.startswith("_"):
                    rule.keys[key] = (element, element.types.get(key), False)
            if element.needs_presence_check():
                required.append(element)
        rule.required = tuple(required)

    def _element(
        self, node: ElementNode, url: str, sd: dict[str, Any], is_slice: bool = False
    ) -> ElementRule | None:
        d = node.definition
        base = self._d.r4_element(d)
        base_d = base or {}
        name = node.choice_base or node.name
        minimum, maximum = d.get("min", 0), max_of(d.get("max", "*"))
        base_max = max_of(base_d.get("max", "*"))
        element = ElementRule(
            d["path"],
            name,
            minimum,
            maximum,
            url,
            array=max_of((d.get("base") or {}).get("max", d.get("max", "*"))) != 1,
            choice=node.choice_base is not None,
            check_min=not is_slice and minimum > base_d.get("min", 0),
            check_max=not is_slice
            and maximum is not None
            and (base_max is None or maximum < base_max),
        )
        children = self._children(node, url, sd)
        self._types(element, node, base_d, children, sd)
        element.checks = self._value_checks(d, base_d)
        fallback = self._fallback(element, d)
        element.invariants = compile_invariants(
            _own_constraints(d), self._d.engine, fallback, url, _constraint_keys(base)
        )
        if node.slices:
            self._slices(element, node, url, sd)
        element.seal()
        return element if is_slice or element.active() else None

    def _children(self, node: ElementNode, url: str, sd: dict[str, Any]) -> ComplexRule | None:
        if not node.children:
            return None
        rule = ComplexRule(node.path, False, url)
        self._fill(rule, node, url, sd)
        return None if rule.empty() else rule

    def _types(
        self,
        element: ElementRule,
        node: ElementNode,
        base: dict[str, Any],
        children: ComplexRule | None,
        sd: dict[str, Any],
    ) -> None:
        d = node.definition
        is_resource = sd.get("kind") == "resource"
        declared = d.get("type") or base.get("type") or []
        base_types = {type_code(t, d["path"], is_resource): t for t in base.get("type", [])}
        for t in declared:
            code = type_code(t, d["path"], is_resource)
            key = element.name + cap(code) if element.choice else element.name
            rule = TypeRule(code, key, complex=children)
            profiles = [p for p in t.get("profile", []) if p.partition("|")[0] != R4 + code]
            if profiles and code != "Extension":
                rule.profiles = tuple(profiles)
            rule.checks = self._type_checks(code, t, d, base_types.get(code), base)
            element.types[key] = rule
        if element.choice or len(base_types) > 1:
            for code in base_types:
                key = element.name + cap(code) if element.choice else element.name
                if key not in element.types:
                    element.disallowed[key] = code

    def _type_checks(
        self,
        code: str,
        t: dict[str, Any],
        d: dict[str, Any],
        base_t: dict[str, Any] | None,
        base: dict[str, Any],
    ) -> tuple[Any, ...]:
        checks: list[Any] = []
        if code == "Reference":
            targets = self._d.target_types(t.get("targetProfile"))
            base_targets = self._d.target_types((base_t or {}).get("targetProfile"))
            if targets is not None and targets != base_targets:
                checks.append(reference_check(targets, self._d.resource_types))
        binding, base_binding = d.get("binding") or {}, base.get("binding") or {}
        same = (
            base_binding.get("strength") == "required"
            and (base_binding.get("valueSet") or "").partition("|")[0]
            == (binding.get("valueSet") or "").partition("|")[0]
        )
        if binding.get("strength") == "required" and binding.get("valueSet") and not same:
            # None: a ValueSet over codes we do not hold (not checkable, documented); an
            # unknown ValueSet is reported by Validator.compile_all
            check = binding_check(self._d.terminology, binding["valueSet"], code)
            if check is not None:
                checks.append(check)
        return tuple(checks)

    @staticmethod
    def _value_checks(d: dict[str, Any], base: dict[str, Any]) -> tuple[Any, ...]:
        checks: list[Any] = []
        fixed, pattern = typed_value(d, "fixed"), typed_value(d, "pattern")
        if fixed is not None:
            checks.append(fixed_check(fixed))
        if pattern is not None:
            checks.append(pattern_check(pattern))
        if d.get("maxLength") and d.get("maxLength") != base.get("maxLength"):
            checks.append(max_length_check(int(d["maxLength"])))
        for prefix, is_min in (("minValue", True), ("maxValue", False)):
            limit = typed_value(d, prefix)
            if limit is not None and limit != typed_value(base, prefix):
                checks.append(limit_check(limit, is_min))
        return tuple(checks)

    @staticmethod
    def _fallback(element: ElementRule, d: dict[str, Any]) -> str | None:
        codes = {t.code for t in element.types.values()}
        if len(codes) != 1:
            return None
        code = next(iter(codes))
        return d["path"] if code in INLINE else code

    # -- slices ---------------------------------------------------------------------------

    def _slices(
        self, element: ElementRule, node: ElementNode, url: str, sd: dict[str, Any]
    ) -> None:
        type_slices = [s for s in node.slices if element.choice and s.slice_name in _keys(element)]
        for s in type_slices:
            self._type_slice(element, s, url, sd)
        others = [s for s in node.slices if s not in type_slices]
        if not others:
            return
        spec = node.definition.get("slicing")
        if spec is None:
            raise ProfileError(f"{node.id} has slices but no slicing")
        discriminators = spec.get("discriminator", [])
        slices = []
        for s in others:
            rule = self._element(s, url, sd, is_slice=True)
            assert rule is not None
            matcher = build_matcher(discriminators, s, self._slice_env)
            slices.append(Slice(s.slice_name or "", rule, matcher))
        element.slicing = Slicing(
            tuple(slices),
            closed=spec.get("rules") == "closed",
            open_at_end=spec.get("rules") == "openAtEnd",
            ordered=bool(spec.get("ordered")),
            description=", ".join(f"{x.get('type')} {x.get('path')}" for x in discriminators),
        )

    def _type_slice(
        self, element: ElementRule, s: ElementNode, url: str, sd: dict[str, Any]
    ) -> None:
        """``value[x]:valueQuantity``: rules for the one JSON name that type uses."""
        key = s.slice_name or ""
        rule = self._element(s, url, sd, is_slice=True)
        assert rule is not None
        if max_of(s.definition.get("max", "*")) == 0:
            dropped = element.types.pop(key, None)
            element.disallowed[key] = dropped.code if dropped else key[len(element.name) :]
            return
        typed = element.types[key]
        own = rule.types.get(key)
        if own is not None:
            typed.complex = own.complex or typed.complex
            typed.profiles = own.profiles or typed.profiles
            typed.checks = typed.checks + own.checks
        typed.checks = typed.checks + rule.checks
        typed.invariants = typed.invariants + rule.invariants
        if s.definition.get("min", 0) > 0:
            element.required_keys = (*element.required_keys, key)


def _keys(element: ElementRule) -> set[str]:
    return set(element.types) | set(element.disallowed)


def _own_constraints(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Constraints a profile adds: those whose ``source`` is an R4 base definition (a snapshot
    generator may copy a data type's invariants onto the element) are the base pass's job."""
    return [
        c for c in definition.get("constraint", []) if not str(c.get("source", "")).startswith(R4)
    ]


def _constraint_keys(base: dict[str, Any] | None) -> frozenset[str]:
    return frozenset(c["key"] for c in (base or {}).get("constraint", []))
