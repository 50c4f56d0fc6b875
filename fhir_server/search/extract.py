"""Index extraction at write time: what each resource contributes to the search index.

For every supported parameter of the type, evaluate its expression (compiled, see `fhirpath`)
and turn the values into rows with the parameter type's own normalizer (`params/<type>.py`), the
same one the query side uses. A composite's expression selects elements; its components are
evaluated on each of them (`params/composite.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from fhir_server.search.fhirpath import Evaluator, compile_expression
from fhir_server.search.params import composite, date, number, reference, string, token, uri
from fhir_server.search.registry import SPECIFICATION, KnownParameters, SearchParam
from fhir_server.search.terms import Index

Rows = dict[str, list[Any]]
Indexer = Callable[[str, list[Any]], Rows]


def _indexer(param: SearchParam) -> Indexer:
    if param.type != "composite":
        return _INDEXERS[param.type]
    rows_of = composite.indexer(param.components)
    return lambda name, elements: {"composites": rows_of(name, elements)}


def with_last_updated(index: Index, ts: int) -> Index:
    """``_lastUpdated`` is the one parameter whose value the store chooses (inside its unit of
    work), so it is added to an index extracted earlier, outside the write lock."""
    row = ("_lastUpdated", ts, ts + 1)  # an instant in µs: the range of its last digit
    return replace(index, dates=(*index.dates, row), present=(*index.present, "_lastUpdated"))


def _token(name: str, values: list[Any]) -> Rows:
    rows, texts = token.index(name, values)
    return {"tokens": rows, "strings": texts}


def _reference(name: str, values: list[Any]) -> Rows:
    refs, idents = reference.index(name, values)
    return {"references": refs, "tokens": idents}


_INDEXERS: dict[str, Indexer] = {
    "token": _token,
    "string": lambda name, values: {"strings": string.index(name, values)},
    "date": lambda name, values: {"dates": date.index(name, values)},
    "number": lambda name, values: {"numbers": number.index(name, values)},
    "quantity": lambda name, values: {"quantities": number.index_quantities(name, values)},
    "reference": _reference,
    "uri": lambda name, values: {"uris": uri.index(name, values)},
}
INDEX_FIELDS = (
    "tokens",
    "strings",
    "dates",
    "numbers",
    "quantities",
    "references",
    "uris",
    "composites",
)
"""The kinds of index rows a resource's search values make (one list each in `Rows`)."""


Plan = tuple[tuple[str, Evaluator, Indexer], ...]


class ResourceIndexer:
    """What a resource contributes to the index under one server's parameters (the store's
    ``indexer``); each type's plan compiled once, and again after the parameters change."""

    def __init__(self, params: KnownParameters) -> None:
        self.params = params
        self._plans: dict[str, Plan] = {}
        params.on_change(self._plans.clear)

    def plan(self, type_: str) -> Plan:
        """(name, evaluator, indexer) of every indexed parameter of ``type_``."""
        found = self._plans.get(type_)
        if found is None:
            found = self._plans[type_] = tuple(
                (p.name, compile_expression(p.expression, type_), _indexer(p))
                for p in self.params.params_for(type_).values()
                if p.expression is not None and p.type != "id" and p.name != "_lastUpdated"
            )
        return found

    def __call__(self, type_: str, resource: dict[str, Any]) -> Index:
        """Everything but ``_lastUpdated`` (see `with_last_updated`)."""
        out: Rows = {field: [] for field in INDEX_FIELDS}
        present: list[str] = []
        for name, evaluate, indexer in self.plan(type_):
            values = evaluate(resource)
            if not values:
                continue
            produced = indexer(name, values)
            if any(produced.values()):
                present.append(name)
                for field, rows in produced.items():
                    out[field] += rows
        return Index(**{field: tuple(rows) for field, rows in out.items()}, present=tuple(present))


index_resource = ResourceIndexer(SPECIFICATION)
"""The specification's parameters only: for stores made outside a server (tools, tests); a
server's store indexes with its own `ResourceIndexer` (`fhir_server.services`)."""
