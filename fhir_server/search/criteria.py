"""A filter as one store-neutral condition on its parameter's index entries: the OR of its
values' conditions, each as its parameter type states it (`search/params/<type>.condition`).
The stores render the result (`store/sqlite/query.py`, `store/mongo/query.py`); ``_id``,
``:missing`` and ``:not`` stay with them, being about the resource rather than one entry."""

from __future__ import annotations

from fhir_server.search.conditions import Condition, Either
from fhir_server.search.params import composite, number, reference, string, token, uri
from fhir_server.search.params.prefixes import range_condition
from fhir_server.search.terms import (
    CompositeValue,
    Filter,
    QuantityValue,
    RangeValue,
    ReferenceValue,
    StringValue,
    TokenValue,
    UriValue,
    Value,
)


def _value(v: Value) -> Condition:
    if isinstance(v, CompositeValue):
        return composite.condition(v)
    if isinstance(v, TokenValue):
        return token.condition(v)
    if isinstance(v, StringValue):
        return string.condition(v)
    if isinstance(v, QuantityValue):
        return number.condition(v)
    if isinstance(v, RangeValue):  # a date or a number: the prefix on the range alone
        return range_condition(v.prefix, v.low, v.high)
    if isinstance(v, UriValue):
        return uri.condition(v)
    raise TypeError(f"no condition for {v!r}")


def condition(f: Filter) -> Condition:
    """Any of the filter's values; an `Either` with one term per value (or per group of local
    references, which `reference.condition` gathers into one ``AnyOf``)."""
    if f.kind == "reference":
        refs = tuple(v for v in f.values if isinstance(v, ReferenceValue))
        return reference.condition(refs)
    return Either(tuple(_value(v) for v in f.values))
