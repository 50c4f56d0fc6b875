"""Index extraction at write time: what each resource contributes to the search index.

For every supported parameter of the type, evaluate its expression (compiled, see `fhirpath`)
and turn the values into rows with the parameter type's own normalizer (`params/<type>.py`), the
same one the query side uses.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fhir_server.search.fhirpath import Evaluator, compile_expression
from fhir_server.search.model import Index
from fhir_server.search.params import date, number, reference, string, token, uri
from fhir_server.search.registry import params_for


@cache
def _plan(type_: str) -> tuple[tuple[str, str, Evaluator], ...]:
    """(name, type, evaluator) of every indexed parameter of ``type_``, compiled once."""
    return tuple(
        (p.name, p.type, compile_expression(p.expression, type_))
        for p in params_for(type_).values()
        if p.expression is not None and p.type != "id"
    )


def index_resource(type_: str, resource: dict[str, Any]) -> Index:
    tokens: list[tuple[str, str | None, str]] = []
    strings: list[tuple[str, str]] = []
    exact: list[tuple[str, str]] = []
    dates: list[tuple[str, int, int]] = []
    numbers: list[tuple[str, float, float]] = []
    quantities: list[tuple[str, str | None, str | None, float, float]] = []
    references: list[tuple[str, str | None, str | None, str | None]] = []
    uris: list[tuple[str, str]] = []
    present: list[str] = []
    for name, kind, evaluate in _plan(type_):
        values = evaluate(resource)
        if not values:
            continue
        before = (len(tokens), len(strings), len(dates), len(numbers), len(quantities))
        before += (len(references), len(uris))
        if kind == "token":
            rows, texts = token.index(name, values)
            tokens += rows
            strings += texts
        elif kind == "string":
            folded, written = string.index(name, values)
            strings += folded
            exact += written
        elif kind == "date":
            dates += date.index(name, values)
        elif kind == "number":
            numbers += number.index(name, values)
        elif kind == "quantity":
            quantities += number.index_quantities(name, values)
        elif kind == "reference":
            refs, idents = reference.index(name, values)
            references += refs
            tokens += idents
        elif kind == "uri":
            uris += uri.index(name, values)
        after = (len(tokens), len(strings), len(dates), len(numbers), len(quantities))
        after += (len(references), len(uris))
        if after != before:
            present.append(name)
    return Index(
        tuple(tokens),
        tuple(strings),
        tuple(exact),
        tuple(dates),
        tuple(numbers),
        tuple(quantities),
        tuple(references),
        tuple(uris),
        tuple(present),
    )
