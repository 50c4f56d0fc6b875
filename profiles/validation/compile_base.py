"""Compile the R4 base StructureDefinitions into strict rules (every property checked).

All base types are compiled together, once, on first use: a resource type pulls in nearly every
data type anyway (``Extension.value[x]`` allows 50 of them), and compiling the lot takes a few
tens of milliseconds. Shared helpers for the profile compiler live here too.
"""

from __future__ import annotations

from typing import Any

from profiles.library import Library
from profiles.terminology import Terminology
from profiles.validation.checks import binding_check, reference_check
from profiles.validation.fhirpath import FhirPathEngine
from profiles.validation.invariants import compile_invariants
from profiles.validation.primitives import Check, build_checks
from profiles.validation.rules import ComplexRule, ElementRule, TypeRule
from profiles.validation.snapshot import ElementNode, parse_snapshot

R4 = "http://hl7.org/fhir/StructureDefinition/"
FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
SYSTEM_TYPES = {
    "http://hl7.org/fhirpath/System.String": "string",
    "http://hl7.org/fhirpath/System.Boolean": "boolean",
    "http://hl7.org/fhirpath/System.Integer": "integer",
    "http://hl7.org/fhirpath/System.Decimal": "decimal",
    "http://hl7.org/fhirpath/System.Date": "date",
    "http://hl7.org/fhirpath/System.DateTime": "dateTime",
    "http://hl7.org/fhirpath/System.Time": "time",
}
INLINE = frozenset({"BackboneElement", "Element"})


def max_of(text: str | None) -> int | None:
    """``"*"`` → None (unbounded)."""
    return None if text is None or text == "*" else int(text)


def cap(code: str) -> str:
    return code[:1].upper() + code[1:]


def type_code(type_: dict[str, Any], path: str, is_resource: bool) -> str:
    """The FHIR type of an element; R4 writes ``id``/``url``/primitive values with FHIRPath
    system types plus a structuredefinition-fhir-type extension."""
    code = str(type_["code"])
    if not code.startswith("http://hl7.org/fhirpath/"):
        return code
    if is_resource and path.count(".") == 1 and path.endswith(".id"):
        return "id"  # Resource.id is an id (resource.html), the snapshot says string
    for ext in type_.get("extension", []):
        if ext.get("url") == FHIR_TYPE_EXTENSION:
            return str(ext.get("valueUrl") or ext.get("valueUri"))
    return SYSTEM_TYPES.get(code, "string")


def find_node(root: ElementNode, element_id: str) -> ElementNode | None:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.id == element_id:
            return node
        stack.extend(node.children)
        stack.extend(node.slices)
    return None


class Definitions:
    """What both compilers need: the library, terminology, FHIRPath engine, R4 element lookup."""

    def __init__(self, library: Library, terminology: Terminology, engine: FhirPathEngine):
        self.library = library
        self.terminology = terminology
        self.engine = engine
        primitives = {
            sd["type"]: sd
            for sd in library.structure_definitions.values()
            if sd.get("kind") == "primitive-type" and sd.get("derivation") != "constraint"
        }
        self.primitive_checks: dict[str, Check] = build_checks(primitives)
        codes = terminology.code_system("http://hl7.org/fhir/resource-types") or {}
        self.resource_types = frozenset(c["code"] for c in codes.get("concept", []))
        self._r4_paths: dict[str, dict[str, dict[str, Any]]] = {}

    def r4_sd(self, type_name: str) -> dict[str, Any] | None:
        sd = self.library.structure_definitions.get(R4 + type_name)
        if sd is None or sd.get("derivation") == "constraint":
            return None
        return sd

    def r4_element(self, definition: dict[str, Any]) -> dict[str, Any] | None:
        """The R4 base definition of a profile's element (by ``base.path``)."""
        path = (definition.get("base") or {}).get("path") or definition["path"]
        type_name = path.split(".", 1)[0]
        table = self._r4_paths.get(type_name)
        if table is None:
            sd = self.r4_sd(type_name)
            table = {}
            for e in sd["snapshot"]["element"] if sd else []:
                table.setdefault(e["path"], e)
            self._r4_paths[type_name] = table
        return table.get(path)

    def target_types(self, profiles: list[str] | None) -> frozenset[str] | None:
        """Resource types a Reference may point at; None when any (or not knowable here)."""
        if not profiles:
            return None
        out = set()
        for url in profiles:
            sd = self.library.structure_definition(url)
            if sd is not None:
                name = sd["type"]
            elif url.startswith(R4):
                name = url[len(R4) :].partition("|")[0]
            else:
                return None
            if name == "Resource":
                return None
            out.add(name)
        return frozenset(out)

    def root_keys(self, type_name: str) -> frozenset[str]:
        """Constraint keys on a data type's root element (checked where the type is walked)."""
        sd = self.r4_sd(type_name)
        if sd is None:
            return frozenset()
        root = sd["snapshot"]["element"][0]
        return frozenset(c["key"] for c in root.get("constraint", []))


class BaseCompiler:
    def __init__(self, definitions: Definitions):
        self._d = definitions
        self._rules: dict[str, ComplexRule] = {}
        self._inline: dict[tuple[str, str], ComplexRule] = {}
        self._trees: dict[str, ElementNode] = {}

    def compile_all(self) -> dict[str, ComplexRule]:
        for sd in self._d.library.structure_definitions.values():
            if sd.get("derivation") != "constraint" and sd["url"] == R4 + sd["type"]:
                self.rule(sd["type"])
        return self._rules

    def done(self) -> dict[str, ComplexRule]:
        """The rules compiled so far (whole once the outermost `rule` call returned)."""
        return dict(self._rules)

    def rule(self, type_name: str) -> ComplexRule | None:
        found = self._rules.get(type_name)
        if found is not None:
            return found
        sd = self._d.r4_sd(type_name)
        if sd is None or sd.get("kind") == "primitive-type":
            return None
        tree = parse_snapshot(sd)
        self._trees[type_name] = tree
        rule = ComplexRule(type_name, True, None, is_resource=sd.get("kind") == "resource")
        self._rules[type_name] = rule
        self._fill(rule, tree, sd)
        fallback = None if rule.is_resource else type_name
        rule.invariants = compile_invariants(
            tree.definition.get("constraint", []), self._d.engine, fallback, None
        )
        return rule

    def _fill(self, rule: ComplexRule, node: ElementNode, sd: dict[str, Any]) -> None:
        required = []
        for child in node.children:
            element = self._element(child, sd)
            for key, type_rule in element.types.items():
                rule.keys[key] = (element, type_rule, False)
                if type_rule.primitive is not None:
                    rule.keys["_" + key] = (element, type_rule, True)
            if element.min > 0:
                required.append(element)
        rule.required = tuple(required)

    def _element(self, node: ElementNode, sd: dict[str, Any]) -> ElementRule:
        d = node.definition
        base_max = max_of((d.get("base") or {}).get("max", d["max"]))
        element = ElementRule(
            d["path"],
            node.choice_base or node.name,
            d.get("min", 0),
            max_of(d["max"]),
            None,
            array=base_max != 1,
            choice=node.choice_base is not None,
            check_min=True,
            check_max=True,
        )
        is_resource = sd.get("kind") == "resource"
        if d.get("contentReference"):
            target = find_node(self._trees[sd["type"]], d["contentReference"].lstrip("#"))
            assert target is not None, d["contentReference"]
            element.types[element.name] = TypeRule(
                "BackboneElement", element.name, complex=self._inline_rule(target, sd)
            )
        for t in d.get("type", []):
            code = type_code(t, d["path"], is_resource)
            key = element.name + cap(code) if element.choice else element.name
            element.types[key] = self._type_rule(code, key, t, node, sd)
        skip: frozenset[str] = frozenset()
        codes = {t.code for t in element.types.values()}
        if len(codes) == 1:
            skip = self._d.root_keys(next(iter(codes)))
        fallback = self._fallback_base(element)
        element.invariants = compile_invariants(
            d.get("constraint", []), self._d.engine, fallback, None, skip
        )
        element.seal()
        return element

    @staticmethod
    def _fallback_base(element: ElementRule) -> str | None:
        if len(element.types) != 1:
            return None
        only = next(iter(element.types.values()))
        return element.path if only.code in INLINE else only.code

    def _type_rule(
        self, code: str, key: str, t: dict[str, Any], node: ElementNode, sd: dict[str, Any]
    ) -> TypeRule:
        d = node.definition
        if code in self._d.primitive_checks:
            rule = TypeRule(code, key, primitive=self._d.primitive_checks[code])
        elif code in INLINE and node.children:
            rule = TypeRule(code, key, complex=self._inline_rule(node, sd))
        elif code == "Resource":
            rule = TypeRule(code, key, resource=True)
        else:
            rule = TypeRule(code, key, complex=self.rule(code), extension=code == "Extension")
            if code == "Reference":
                targets = self._d.target_types(t.get("targetProfile"))
                if targets is not None:
                    rule.checks = (reference_check(targets, self._d.resource_types),)
        binding = d.get("binding") or {}
        if binding.get("strength") == "required" and binding.get("valueSet"):
            check = binding_check(self._d.terminology, binding["valueSet"], code)
            if check is not None:
                rule.checks = (*rule.checks, check)
        return rule

    def _inline_rule(self, node: ElementNode, sd: dict[str, Any]) -> ComplexRule:
        key = (sd["url"], node.id)
        found = self._inline.get(key)
        if found is None:
            found = ComplexRule(node.path, True, None)
            self._inline[key] = found
            self._fill(found, node, sd)
        return found
