"""Composite parameters (search.html#composite): ``code$value``, where both components must match
within the same element the composite's expression selects — ``component-code-value-quantity=
http://loinc.org|8480-6$gt100`` finds a systolic component above 100, not a systolic component
next to another component above 100.

The index holds one row per element and combination of the components' values: the first
component's token (system, code) and the second component's value as its own type normalizes it
(`Index.composites`). Each component's value is parsed by its own type's parser, prefixes
included; the composite takes no modifier but ``:missing``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fhir_server.errors import Invalid
from fhir_server.search.conditions import Condition, Eq, all_of, renamed
from fhir_server.search.fhirpath import compile_relative
from fhir_server.search.params import date, number, string, token, uri
from fhir_server.search.params.escapes import split_escaped, unescape
from fhir_server.search.params.modifiers import check_modifier
from fhir_server.search.registry import Component
from fhir_server.search.terms import (
    CompositeValue,
    Filter,
    QuantityValue,
    RangeValue,
    StringValue,
    TokenValue,
    UriValue,
)

Row = tuple[str, str | None, str, str | None, str | None, float | None, float | None]
Second = tuple[str | None, str | None, float | None, float | None]
"""(v, vs, lo, hi) of the second component's value; see `Index.composites`."""


def _tokens(name: str, values: list[Any]) -> list[tuple[str | None, str]]:
    """(system, code) of the values; not the ``:of-type`` rows of an Identifier."""
    return [(system, code) for p, system, code in token.index(name, values)[0] if p == name]


def _token_parts(name: str, values: list[Any]) -> list[Second]:
    return [(code, system, None, None) for system, code in _tokens(name, values)]


def _quantity_parts(name: str, values: list[Any]) -> list[Second]:
    return [(c, s, lo, hi) for _, s, c, lo, hi in number.index_quantities(name, values)]


def _range_parts(rows: Sequence[tuple[str, float, float]]) -> list[Second]:
    return [(None, None, lo, hi) for _, lo, hi in rows]


_SECONDS: dict[str, Callable[[str, list[Any]], list[Second]]] = {
    "token": _token_parts,
    "quantity": _quantity_parts,
    "date": lambda name, values: _range_parts(date.index(name, values)),
    "number": lambda name, values: _range_parts(number.index(name, values)),
    "string": lambda name, values: [(f, w, None, None) for _, f, w in string.index(name, values)],
    "uri": lambda name, values: [(v, None, None, None) for v in values if isinstance(v, str)],
}

Indexer = Callable[[str, list[Any]], list[Row]]


def indexer(components: tuple[Component, ...]) -> Indexer:
    """Rows for the elements the composite's expression selected, components compiled once."""
    first, second = components
    first_of, second_of = compile_relative(first.expression), compile_relative(second.expression)
    second_parts = _SECONDS[second.type]

    def index(param: str, elements: list[Any]) -> list[Row]:
        rows: dict[Row, None] = {}  # no duplicates, in a stable order
        for element in elements:
            tokens = _tokens(first.name, first_of(element))
            if not tokens:
                continue
            for part in second_parts(second.name, second_of(element)):
                rows.update(dict.fromkeys((param, system, code, *part) for system, code in tokens))
        return list(rows)

    return index


def _component(component: Component, text: str) -> Any:
    """One component's value (escapes kept), parsed as its own type parses it (prefixes,
    ``system|code``)."""
    name = component.name
    if component.type == "token":
        return token.escaped_token_value(text)
    text = unescape(text)
    if component.type == "quantity":
        return number.parse_quantity(name, None, [text]).values[0]
    if component.type == "date":
        return date.parse(name, None, [text]).values[0]
    if component.type == "number":
        return number.parse(name, None, [text]).values[0]
    if component.type == "string":
        return string.parse(name, None, [text]).values[0]
    return UriValue(text)


def _value(param: str, components: tuple[Component, ...], raw: str) -> CompositeValue:
    parts = split_escaped(raw, "$")
    shape = "$".join(c.name for c in components)
    if len(parts) != len(components) or not all(parts):
        raise Invalid(f"{param} takes {shape} (separated by '$'), not {raw!r}", [param])
    values = []
    for component, part in zip(components, parts, strict=True):
        try:
            values.append(_component(component, part))
        except Invalid as err:
            raise Invalid(f"{param}: {err.diagnostics}", [param]) from err
    first, second = values
    assert isinstance(first, TokenValue)
    return CompositeValue(first, second)


def condition(v: CompositeValue) -> Condition:
    """Both components on one entry (one element): the first's token on ``code``/``system``,
    the second as its own type states it on ``v.*``. A second value without a range also asks
    for no range (``v.lo``/``v.hi`` absent), so a store's value index narrows on it too."""
    second = v.second
    if isinstance(second, RangeValue | QuantityValue):
        rest = number.condition(second)
    elif isinstance(second, StringValue):
        rest = all_of(Eq("lo", None), Eq("hi", None), string.condition(second))
    elif isinstance(second, UriValue):
        rest = all_of(Eq("lo", None), Eq("hi", None), uri.condition(second))
    else:
        rest = all_of(Eq("lo", None), Eq("hi", None), token.condition(second))
    return all_of(token.condition(v.first), renamed(rest, "v."))


def parse(
    param: str, modifier: str | None, values: list[str], components: tuple[Component, ...]
) -> Filter:
    """``values`` still hold their escapes (``\\$`` is a dollar inside a component)."""
    check_modifier("composite", param, modifier)
    return Filter(param, "composite", tuple(_value(param, components, v) for v in values))
