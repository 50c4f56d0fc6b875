"""Compile a FHIRPath expression (fhirpathpy's parse tree) into nested Python closures.

Each closure takes the input collection and an :class:`Env` and returns a collection. What the
compiler does not know raises :class:`Unsupported` (at compile time, or at run time for type tests
it cannot decide on plain JSON); the caller then uses fhirpathpy for that expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from fhirpathpy.parser import parse

from profiles.validation.fhirpath import operators
from profiles.validation.fhirpath.functions import VALUE_FUNCTIONS
from profiles.validation.fhirpath.navigation import is_type, navigate, resolve, type_or_member
from profiles.validation.fhirpath.runtime import Env, Fn, Items, Model, UserFunction
from profiles.validation.fhirpath.values import (
    Unsupported,
    calendar_duration,
    contains_item,
    distinct,
    singleton,
    to_bool,
)

Node = dict[str, Any]


CONSTANTS = {
    "ucum": "http://unitsofmeasure.org",
    "sct": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
}
_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r"}
_ESCAPES["t"] = "\t"
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")


def _unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        s = m.group(1)
        if s.startswith("u") and len(s) == 5:
            return chr(int(s[1:], 16))
        return _ESCAPES.get(s, "\\" + s)

    return _ESCAPE.sub(one, text)


def _identifier(node: Node) -> str:
    return node["terminalNodeText"][0].strip("`")


def _type_name(node: Node) -> str:
    """The name of a TypeSpecifier or of an identifier used as one (``ofType(FHIR.Quantity)``)."""
    names = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n["type"] == "Identifier":
            names.append(_identifier(n))
        stack.extend(reversed(n.get("children", [])))
    if not names:
        raise Unsupported("type specifier without a name")
    if names[0] in ("FHIR", "System") and len(names) > 1:
        return names[-1]
    return ".".join(names)


class Compiler:
    def __init__(self, model: Model, functions: Mapping[str, UserFunction] | None = None):
        self._model = model
        self._functions = dict(functions or {})
        self._folded: dict[Fn, Items] = {}
        """Constant closures and their value, for folding literal unions."""

    def compile(self, expression: str) -> Fn:
        try:
            tree = parse(expression)
        except Exception as exc:  # the ANTLR parser raises plain Exceptions
            raise Unsupported(f"cannot parse {expression!r}: {exc}") from exc
        return self._node(tree["children"][0])

    # -- dispatch ---------------------------------------------------------------------------

    def _node(self, node: Node) -> Fn:
        kind = node["type"]
        handler = getattr(self, f"_c_{kind}", None)
        if handler is None:
            raise Unsupported(f"{kind} is not supported")
        return handler(node)

    def _c_TermExpression(self, node: Node) -> Fn:
        return self._node(node["children"][0])

    _c_InvocationTerm = _c_TermExpression
    _c_ParenthesizedTerm = _c_TermExpression
    _c_LiteralTerm = _c_TermExpression

    def _c_InvocationExpression(self, node: Node) -> Fn:
        left_node, right_node = node["children"]
        typed = self._typed_choice(left_node, right_node)
        if typed is not None:
            return typed
        left, right = self._node(left_node), self._node(right_node)
        return lambda items, env: right(left(items, env), env)

    def _c_MemberInvocation(self, node: Node) -> Fn:
        name = _identifier(node["children"][0])
        choice = name in self._model.choice_names
        suffixes = self._model.type_suffixes
        if name[:1].isupper():
            return lambda items, env: type_or_member(items, name, choice, suffixes)
        return lambda items, env: navigate(items, name, choice, suffixes)

    def _c_ThisInvocation(self, node: Node) -> Fn:
        return lambda items, env: [env.this] if env.this is not None else []

    def _c_IndexInvocation(self, node: Node) -> Fn:
        return lambda items, env: [env.index]

    def _c_ExternalConstantTerm(self, node: Node) -> Fn:
        name = _identifier(node["children"][0]["children"][0])
        if name == "resource":
            return lambda items, env: [env.resource]
        if name == "rootResource":
            return lambda items, env: [env.root]
        if name == "context":
            return lambda items, env: [env.context]
        if name in CONSTANTS:
            value = CONSTANTS[name]
            return lambda items, env: [value]
        if name.startswith(("vs-", "ext-")):
            prefix = "ValueSet" if name.startswith("vs-") else "StructureDefinition"
            url = f"http://hl7.org/fhir/{prefix}/{name.split('-', 1)[1]}"
            return lambda items, env: [url]
        raise Unsupported(f"%{name} is not supported")

    # -- literals ---------------------------------------------------------------------------

    def _constant(self, value: Any) -> Fn:
        return self._constants([value])

    def _constants(self, result: Items) -> Fn:
        def constant(items: Items, env: Env) -> Items:
            return result

        self._folded[constant] = result
        return constant

    def _c_StringLiteral(self, node: Node) -> Fn:
        return self._constant(_unescape(node["terminalNodeText"][0][1:-1]))

    def _c_NumberLiteral(self, node: Node) -> Fn:
        text = node["terminalNodeText"][0]
        return self._constant(float(text) if "." in text else int(text))

    def _c_QuantityLiteral(self, node: Node) -> Fn:
        """``1 year``: a calendar duration (date arithmetic); other quantities are
        `Unsupported` (fhirpathpy runs the expression)."""
        quantity = node["children"][0]
        number = quantity["terminalNodeText"][0]
        unit_node = quantity["children"][0] if quantity.get("children") else None
        unit = unit_node["children"][0] if unit_node and unit_node.get("children") else None
        if unit is None or unit["type"] not in ("DateTimePrecision", "PluralDateTimePrecision"):
            raise Unsupported(f"the quantity literal {number} (not a calendar duration)")
        value = float(number) if "." in number else int(number)
        return self._constant(calendar_duration(value, unit["terminalNodeText"][0]))

    def _c_BooleanLiteral(self, node: Node) -> Fn:
        return self._constant(node["terminalNodeText"][0] == "true")

    def _c_DateTimeLiteral(self, node: Node) -> Fn:
        return self._constant(node["terminalNodeText"][0].lstrip("@"))

    def _c_TimeLiteral(self, node: Node) -> Fn:
        return self._constant(node["terminalNodeText"][0].lstrip("@T"))

    def _c_NullLiteral(self, node: Node) -> Fn:
        return lambda items, env: []

    # -- operators --------------------------------------------------------------------------

    def _operands(self, node: Node) -> tuple[Fn, Fn, str]:
        left, right = node["children"]
        return self._node(left), self._node(right), node["terminalNodeText"][0]

    def _short_circuit(self, node: Node) -> tuple[Fn, Fn, str]:
        """Operands of ``and``/``or``/``implies``: a right side the compiler cannot handle
        raises `Unsupported` only when it is reached (so the whole expression goes to
        fhirpathpy only for inputs that need it): ``policy = 'x' implies end <= start + 1 year``
        stays native for every resource without that policy."""
        left, right = node["children"]
        try:
            compiled = self._node(right)
        except Unsupported as exc:
            reason = str(exc)

            def compiled(items: Items, env: Env) -> Items:
                raise Unsupported(reason)

        return self._node(left), compiled, node["terminalNodeText"][0]

    def _c_UnionExpression(self, node: Node) -> Fn:
        """A union of literals (``code in ('a' | 'b' | …)``) is computed once."""
        left, right, op = self._operands(node)
        if left in self._folded and right in self._folded:
            return self._constants(distinct(self._folded[left] + self._folded[right]))
        return operators.union(left, right, op)

    def _c_EqualityExpression(self, node: Node) -> Fn:
        return operators.equality(*self._operands(node))

    def _c_InequalityExpression(self, node: Node) -> Fn:
        return operators.inequality(*self._operands(node))

    def _c_MembershipExpression(self, node: Node) -> Fn:
        return operators.membership(*self._operands(node))

    def _c_AndExpression(self, node: Node) -> Fn:
        return operators.and_(*self._short_circuit(node))

    def _c_OrExpression(self, node: Node) -> Fn:
        return operators.or_(*self._short_circuit(node))

    def _c_XorExpression(self, node: Node) -> Fn:
        return operators.xor(*self._operands(node))

    def _c_ImpliesExpression(self, node: Node) -> Fn:
        return operators.implies(*self._short_circuit(node))

    def _c_AdditiveExpression(self, node: Node) -> Fn:
        return operators.additive(*self._operands(node))

    def _c_MultiplicativeExpression(self, node: Node) -> Fn:
        return operators.multiplicative(*self._operands(node))

    def _c_PolarityExpression(self, node: Node) -> Fn:
        return operators.polarity(self._node(node["children"][0]), node["terminalNodeText"][0])

    def _c_IndexerExpression(self, node: Node) -> Fn:
        return operators.indexer(*self._operands(node))

    def _c_TypeExpression(self, node: Node) -> Fn:
        operand = self._node(node["children"][0])
        type_name = _type_name(node["children"][1])
        op = node["terminalNodeText"][0]
        typed = self._typed_choice(node["children"][0], None, type_name, op)
        if typed is not None:
            return typed

        def run(items: Items, env: Env) -> Items:
            value = singleton(operand(items, env))
            if value is None:
                return []
            matches = is_type(value, type_name)
            if op == "is":
                return [matches]
            return [value] if matches else []

        return run

    # -- functions --------------------------------------------------------------------------

    def _c_FunctionInvocation(self, node: Node) -> Fn:
        functn = node["children"][0]
        name = _identifier(functn["children"][0])
        params = functn["children"][1]["children"] if len(functn["children"]) > 1 else []
        special = getattr(self, f"_f_{name}", None)
        if special is not None:
            return special(params)
        if name in self._functions:
            fn = self._functions[name]
            return self._value_call(name, fn.impl, fn.arity, params)
        if name in VALUE_FUNCTIONS:
            impl, arity = VALUE_FUNCTIONS[name]
            return self._value_call(name, impl, arity, params)
        raise Unsupported(f"function {name}() is not supported")

    def _value_call(
        self, name: str, impl: Callable[..., Items], arity: tuple[int, ...], params: list[Node]
    ) -> Fn:
        if len(params) not in arity:
            raise Unsupported(f"{name}() takes {arity} arguments, not {len(params)}")
        if name == "exists" and params:
            return self._f_exists(params)
        args = [self._node(p) for p in params]
        if not args:
            return lambda items, env: impl(items)

        def run(items: Items, env: Env) -> Items:
            focus = [env.this] if env.this is not None else []
            return impl(items, *(a(focus, env) for a in args))

        return run

    def _per_item(self, params: list[Node], name: str) -> Fn:
        if len(params) != 1:
            raise Unsupported(f"{name}() needs one argument")
        return self._node(params[0])

    def _f_where(self, params: list[Node]) -> Fn:
        criterion = self._per_item(params, "where")

        def run(items: Items, env: Env) -> Items:
            return [
                item
                for i, item in enumerate(items)
                if to_bool(criterion([item], env.at(item, i))) is True
            ]

        return run

    def _f_select(self, params: list[Node]) -> Fn:
        projection = self._per_item(params, "select")

        def run(items: Items, env: Env) -> Items:
            out: Items = []
            for i, item in enumerate(items):
                out.extend(projection([item], env.at(item, i)))
            return out

        return run

    def _f_exists(self, params: list[Node]) -> Fn:
        if not params:
            return lambda items, env: [bool(items)]
        where = self._f_where(params)
        return lambda items, env: [bool(where(items, env))]

    def _f_all(self, params: list[Node]) -> Fn:
        criterion = self._per_item(params, "all")

        def run(items: Items, env: Env) -> Items:
            return [
                all(
                    to_bool(criterion([item], env.at(item, i))) is True
                    for i, item in enumerate(items)
                )
            ]

        return run

    def _f_repeat(self, params: list[Node]) -> Fn:
        projection = self._per_item(params, "repeat")

        def run(items: Items, env: Env) -> Items:
            out: Items = []
            level = items
            while level:
                nxt: Items = []
                for i, item in enumerate(level):
                    for found in projection([item], env.at(item, i)):
                        if not contains_item(out, found):
                            out.append(found)
                            nxt.append(found)
                level = nxt
            return out

        return run

    def _f_iif(self, params: list[Node]) -> Fn:
        if len(params) not in (2, 3):
            raise Unsupported("iif() takes 2 or 3 arguments")
        criterion, yes = self._node(params[0]), self._node(params[1])
        no = self._node(params[2]) if len(params) == 3 else None

        def run(items: Items, env: Env) -> Items:
            if to_bool(criterion(items, env)) is True:
                return yes(items, env)
            return no(items, env) if no is not None else []

        return run

    def _f_trace(self, params: list[Node]) -> Fn:
        return lambda items, env: items

    def _f_ofType(self, params: list[Node]) -> Fn:
        if len(params) != 1:
            raise Unsupported("ofType() takes one argument")
        type_name = _type_name(params[0])
        return lambda items, env: [i for i in items if is_type(i, type_name)]

    def _f_is(self, params: list[Node]) -> Fn:
        type_name = _type_name(params[0])

        def run(items: Items, env: Env) -> Items:
            value = singleton(items)
            return [] if value is None else [is_type(value, type_name)]

        return run

    def _f_as(self, params: list[Node]) -> Fn:
        type_name = _type_name(params[0])

        def run(items: Items, env: Env) -> Items:
            value = singleton(items)
            return [value] if value is not None and is_type(value, type_name) else []

        return run

    def _f_resolve(self, params: list[Node]) -> Fn:
        return lambda items, env: [r for i in items if (r := resolve(i, env)) is not None]

    # -- typed access to choice elements ----------------------------------------------------

    def _typed_choice(
        self, left: Node, right: Node | None, type_name: str | None = None, op: str = "ofType"
    ) -> Fn | None:
        """``value.ofType(Quantity)`` / ``value as Quantity`` / ``value is Quantity`` on a choice
        element compile to the JSON name ``valueQuantity`` (the type is in the name)."""
        if right is not None:
            if right["type"] != "FunctionInvocation":
                return None
            functn = right["children"][0]
            op = _identifier(functn["children"][0])
            params = functn["children"][1]["children"] if len(functn["children"]) > 1 else []
            if op not in ("ofType", "as", "is") or len(params) != 1:
                return None
            type_name = _type_name(params[0])
        prefix, name = self._member_tail(left)
        if name is None or name not in self._model.choice_names or type_name is None:
            return None
        key = name + type_name[0].upper() + type_name[1:]
        suffixes = self._model.type_suffixes
        if op != "is":
            return lambda items, env: navigate(prefix(items, env), key, False, suffixes)

        def run(items: Items, env: Env) -> Items:
            parents = prefix(items, env)
            if not navigate(parents, name, True, suffixes):
                return []
            return [bool(navigate(parents, key, False, suffixes))]

        return run

    def _member_tail(self, node: Node) -> tuple[Fn, str | None]:
        """(the path before, the member name) when ``node`` ends in a member invocation."""
        if node["type"] == "TermExpression":
            inner = node["children"][0]
            if inner["type"] == "InvocationTerm":
                member = inner["children"][0]
                if member["type"] == "MemberInvocation":
                    return (lambda items, env: items), _identifier(member["children"][0])
        if node["type"] == "InvocationExpression":
            left, right = node["children"]
            if right["type"] == "MemberInvocation":
                return self._node(left), _identifier(right["children"][0])
        return (lambda items, env: items), None
