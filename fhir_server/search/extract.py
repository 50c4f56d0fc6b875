"""Index extraction at write time: what each resource contributes to the search index.

For every supported parameter of the type, evaluate its expression (compiled, see `fhirpath`)
and turn the values into rows with the parameter type's own normalizer (`params/<type>.py`), the
same one the query side uses.
"""

from __future__ import annotations

from collections.abc import Callable
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


Rows = dict[str, list[Any]]


def _token(name: str, values: list[Any]) -> Rows:
    rows, texts = token.index(name, values)
    return {"tokens": rows, "strings": texts}


def _string(name: str, values: list[Any]) -> Rows:
    folded, written = string.index(name, values)
    return {"strings": folded, "exact": written}


def _reference(name: str, values: list[Any]) -> Rows:
    refs, idents = reference.index(name, values)
    return {"references": refs, "tokens": idents}


_INDEXERS: dict[str, Callable[[str, list[Any]], Rows]] = {
    "token": _token,
    "string": _string,
    "date": lambda name, values: {"dates": date.index(name, values)},
    "number": lambda name, values: {"numbers": number.index(name, values)},
    "quantity": lambda name, values: {"quantities": number.index_quantities(name, values)},
    "reference": _reference,
    "uri": lambda name, values: {"uris": uri.index(name, values)},
}
_FIELDS = ("tokens", "strings", "exact", "dates", "numbers", "quantities", "references", "uris")


def index_resource(type_: str, resource: dict[str, Any]) -> Index:
    out: Rows = {field: [] for field in _FIELDS}
    present: list[str] = []
    for name, kind, evaluate in _plan(type_):
        values = evaluate(resource)
        if not values:
            continue
        produced = _INDEXERS[kind](name, values)
        if any(produced.values()):
            present.append(name)
            for field, rows in produced.items():
                out[field] += rows
    return Index(**{field: tuple(rows) for field, rows in out.items()}, present=tuple(present))
