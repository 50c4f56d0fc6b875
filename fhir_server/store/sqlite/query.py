"""Compile a SearchQuery into SQL: the most selective filter drives (``r.rk IN`` its index
rows), each other filter is an EXISTS probe on the candidate's own rows (the index tables are
clustered by ``rk``); filters joined with AND, a filter's values with OR. See
docs/implementation/storage.md."""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server.care_relationships import instant_us
from fhir_server.search import criteria
from fhir_server.search.conditions import (
    All,
    AnyOf,
    Cmp,
    Condition,
    Contains,
    Either,
    PrefixOf,
    StartsWith,
)
from fhir_server.search.terms import Criterion, Filter, RelatedTo, SearchQuery, SortKey
from fhir_server.store.sqlite.schema import param_key

_TOP = "\U0010ffff"
"""Above every character: ``value >= p AND value < p || _TOP`` is a starts-with range scan."""

_TABLES = {
    "token": "idx_token",
    "string": "idx_string",
    "date": "idx_date",
    "number": "idx_number",
    "quantity": "idx_quantity",
    "reference": "idx_reference",
    "uri": "idx_uri",
    "composite": "idx_composite",
}

_RANGE = {"lo": "t.lo", "hi": "t.hi"}
_COLUMNS: dict[str, dict[str, str]] = {
    "token": {"code": "t.code", "system": "t.system"},
    "string": {"text": "t.value", "exact": "t.exact"},
    "date": _RANGE,
    "number": _RANGE,
    "quantity": {**_RANGE, "system": "t.system", "code": "t.code"},
    "reference": {"type": "t.rtype", "id": "t.rid", "url": "t.url"},
    "uri": {"value": "t.value"},
    "composite": {
        "code": "t.code",
        "system": "t.system",
        "v.lo": "t.lo",
        "v.hi": "t.hi",
        "v.code": "t.v",
        "v.text": "t.v",
        "v.value": "t.v",
        "v.system": "t.vs",
    },
}
"""Per index table, the column holding each part a condition names (`search/conditions`)."""
_PROBE_COLUMNS = {k: {f: f"+{c}" for f, c in v.items()} for k, v in _COLUMNS.items()}
"""The same for a probe of the candidate's own rows (``t.rk = r.rk AND t.p = …``): a unary
``+`` keeps SQLite from answering the condition through the table's index by value, which it
would otherwise prefer for an ``IN`` list (one seek of that index per value and candidate: 30
values over 400 candidates cost 15 ms where the candidate's own rows cost 0.25 ms)."""
_ABSENT = {"t.lo": "0", "t.hi": "0"}
"""How a row says it has no such part: zero for a range end, the empty text otherwise."""
_PARTIAL = frozenset({"t.url", "t.rid"})
"""Columns whose index is partial (non-empty values only): a lookup says ``<> ''`` to use it."""


def render(c: Condition, columns: dict[str, str], args: list[Any]) -> str:
    """A store-neutral condition as SQL on the index row ``t``; values are bound in ``args``."""
    if isinstance(c, All):
        terms = [render(x, columns, args) for x in c.conditions]
        return "(" + " AND ".join(terms) + ")" if terms else "1"
    if isinstance(c, Either):  # a balanced tree (see `_any`); no term: nothing matches
        return _any([render(x, columns, args) for x in c.conditions]) if c.conditions else "0"
    column = columns[c.field]
    if isinstance(c, Cmp):
        args.append(c.value)
        return f"{column} {c.op} ?"
    if isinstance(c, StartsWith):
        args.extend([c.prefix, c.prefix + _TOP])
        return f"({column} >= ? AND {column} < ?)"
    if isinstance(c, Contains):
        args.append(c.text)
        return f"instr({column}, ?) > 0"
    if isinstance(c, PrefixOf):
        args.append(c.value)
        return f"substr(?, 1, length({column})) = {column}"
    if isinstance(c, AnyOf):
        test = f"{column} IN {_in_list(list(c.values), args)}"
    elif c.value is None:
        absent = _ABSENT.get(column.lstrip("+"), "''")
        return f"{column} = {absent}"
    else:
        args.append(c.value)
        test = f"{column} = ?"
    return f"({test} AND {column} <> '')" if column in _PARTIAL else test


def _missing(f: Filter, type_: str) -> str:
    """Whether the candidate has a value of the parameter, as `Index.present` says (the rows of
    ``idx_present``; MongoDB asks the same of ``has``)."""
    if f.kind == "id":  # every resource has an id (and _id has no index rows)
        return "0" if f.missing else "1"
    exists = (
        "EXISTS (SELECT 1 FROM idx_present t WHERE t.rk = r.rk"
        f" AND t.p = {param_key(type_, f.param)})"
    )
    return f"NOT {exists}" if f.missing else exists


def _filter(f: Filter, type_: str, args: list[Any], drive: bool = False) -> str:
    """One filter as a condition on ``r``. The driving filter is ``r.rk IN (SELECT …)``, so
    SQLite starts from that parameter's value index; the others are probes per candidate row.
    Parameter keys are integers computed here, never text from the client."""
    if f.modifier == "missing":
        return _missing(f, type_)
    if not f.values:  # an empty OR matches nothing (and its negation everything)
        return "1" if f.modifier == "not" else "0"
    if f.kind == "id":
        return "r.id IN " + _in_list([v.code for v in f.values], args)  # type: ignore[union-attr]
    table = _TABLES[f.kind]
    columns = _COLUMNS[f.kind] if drive else _PROBE_COLUMNS[f.kind]
    ors = render(criteria.condition(f), columns, args)
    p = param_key(type_, f.param)
    if drive:
        return f"r.rk IN (SELECT t.rk FROM {table} t WHERE t.p = {p} AND ({ors}))"
    exists = f"EXISTS (SELECT 1 FROM {table} t WHERE t.rk = r.rk AND t.p = {p} AND ({ors}))"
    return f"NOT {exists}" if f.modifier == "not" else exists


def _related(c: RelatedTo, type_: str, args: list[Any], drive: bool = False) -> str:
    """The candidate's owner among the patients ``c.holders`` have a care relationship with at
    ``c.at``, joined from ``care_relationship`` in this query. Driving: the holders' rows (a
    range of its primary key per holder), each patient's references from the index by value
    (``idx_reference_by_target``). Probing: the candidate's own owner reference, then that
    patient's relationship with each holder (a range of the primary key: holder, patient).
    ``_id`` (a Patient): its id among the related patients. ``CROSS JOIN`` fixes the order
    (SQLite keeps a cross join's tables in the order written): without statistics the planner
    would walk every reference of the parameter and probe each patient's relationships."""
    if not c.holders:
        return "0"
    holding = f"c.holder IN {_in_list(list(c.holders), args)} AND c.lo <= ? AND c.hi > ?"
    moment = instant_us(c.at)
    args += [moment, moment]
    if c.param == "_id":
        return f"r.id IN (SELECT c.patient FROM care_relationship c WHERE {holding})"
    p = param_key(type_, c.param)
    if drive:
        return (
            "r.rk IN (SELECT t.rk FROM care_relationship c CROSS JOIN idx_reference t"
            f" ON t.p = {p} AND t.rid = c.patient AND t.rid <> '' AND t.rtype = 'Patient'"
            f" WHERE {holding})"
        )
    return (
        f"EXISTS (SELECT 1 FROM idx_reference t WHERE t.rk = r.rk AND t.p = {p}"
        " AND t.rtype = 'Patient' AND EXISTS (SELECT 1 FROM care_relationship c"
        f" WHERE c.patient = t.rid AND {holding}))"
    )


def _criterion(c: Criterion, type_: str, args: list[Any], drive: bool = False) -> str:
    """A filter, a care relationship (`_related`), or a group as ``(a AND b) OR (c)`` of its
    branches' probes (``NOT (…)`` when negated): every part a condition on the candidate ``r``,
    so the group joins the query's other conditions and counts and pages stay exact."""
    if isinstance(c, Filter):
        return _filter(c, type_, args, drive)
    if isinstance(c, RelatedTo):
        return _related(c, type_, args, drive)
    branches = [
        "(" + (" AND ".join(_criterion(x, type_, args) for x in branch) or "1") + ")"
        for branch in c.any_of
    ]
    matched = _any(branches) if branches else "0"
    return f"NOT ({matched})" if c.negate else matched


_LISTED = 50
"""Up to this many values are bound one by one (``IN (?, ?)``, which SQLite plans best); more
as one JSON array (``IN (SELECT value FROM json_each(?))``): one variable however many values
(a chain's inner search may give thousands, past SQLite's variable limit)."""


def _in_list(values: list[Any], args: list[Any]) -> str:
    if len(values) <= _LISTED:
        args.extend(values)
        return "(" + ",".join("?" * len(values)) + ")"
    args.append(orjson.dumps(values).decode())
    return "(SELECT value FROM json_each(?))"


def _any(terms: list[str]) -> str:
    """``a OR b OR …`` as a balanced tree: SQLite refuses an expression nested 1,000 deep,
    which a flat chain of some 500 ORs is (as parsed); halves keep the depth at log2(n)."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return f"({_any(terms[:middle])} OR {_any(terms[middle:])})"


_SELECTIVITY = {
    "reference": 0,
    "composite": 1,
    "token": 1,
    "uri": 2,
    "string": 3,
    "quantity": 4,
    "number": 5,
}
"""Which kind of filter to start from: references, composites (a code and a value) and tokens
usually single out few resources."""


def _driver(query: SearchQuery) -> Filter | RelatedTo | None:
    """The criterion to start from: a plain filter, or a care relationship (as selective as a
    reference: a caller's citizens are few among all)."""
    candidates: list[Filter | RelatedTo] = [
        f
        for f in query.filters
        if (
            isinstance(f, Filter)
            and f.kind != "id"
            and f.modifier not in ("not", "missing")
            and f.values
        )
        or (isinstance(f, RelatedTo) and f.param != "_id" and f.holders)
    ]
    return min(candidates, key=_selectivity, default=None)


def _selectivity(c: Filter | RelatedTo) -> int:
    return _SELECTIVITY["reference"] if isinstance(c, RelatedTo) else _SELECTIVITY.get(c.kind, 6)


def _where(query: SearchQuery, args: list[Any], drive: bool = True) -> tuple[str, list[str]]:
    """The resource table's source and the conditions. With a driving filter, the resource
    rows are looked up by key from its matches (``INDEXED BY``: without statistics SQLite may
    otherwise walk every resource of the type in id order and test each against the list).
    Without one (``drive=False``), resources are walked in result order and each is probed."""
    where = ["r.type = ?", "r.deleted = 0"]
    args.append(query.type)
    driver = _driver(query) if drive else None
    for f in query.filters:
        where.append(_criterion(f, query.type, args, drive=f is driver))
    source = "resource r INDEXED BY resource_by_rk" if driver else "resource r"
    return source, where


def compile_count(query: SearchQuery) -> tuple[str, list[Any]]:
    args: list[Any] = []
    source, where = _where(query, args)
    return f"SELECT count(*) FROM {source} WHERE " + " AND ".join(where), args


_SORT_SOURCES = {
    "date": ("idx_date", "lo", "hi"),
    "number": ("idx_number", "lo", "hi"),
    "quantity": ("idx_quantity", "lo", "hi"),
    "string": ("idx_string", "value", "value"),
    "token": ("idx_token", "code", "code"),
    "reference": ("idx_reference", "NULLIF(s.rid, '')", "NULLIF(s.rid, '')"),
    "uri": ("idx_uri", "value", "value"),
}


def _sort_expr(key: SortKey, type_: str) -> str:
    """A resource's sort value: its lowest value ascending, its highest descending (search.html
    #sort)."""
    if key.kind == "id":
        return "r.id"
    table, low, high = _SORT_SOURCES[key.kind]
    column = high if key.descending else low
    column = column if "(" in column else f"s.{column}"
    agg = f"MAX({column})" if key.descending else f"MIN({column})"
    p = param_key(type_, key.param)
    return f"(SELECT {agg} FROM {table} s WHERE s.rk = r.rk AND s.p = {p})"


def _keyset(
    keys: list[tuple[str, bool]],
    values: list[Any],
    last_id: Any,
    args: list[Any],
    backward: bool = False,
) -> str:
    """Rows after (``backward``: before) the cursor's row in ``ORDER BY e IS NULL, e [DESC], …,
    r.id``: for some key, all earlier keys equal and this one beyond (before) the cursor's;
    or all keys equal and the id beyond (before). Missing values sort last either way."""
    if len(values) != len(keys) or not isinstance(last_id, str):
        raise ValueError("cursor does not fit the sort")
    ors: list[str] = []
    equal: list[tuple[str, list[Any]]] = []
    for (expr, descending), value in zip(keys, values, strict=True):
        step = _step(expr, descending, value, backward)
        if step is not None:
            ors.append("(" + " AND ".join([*(c for c, _ in equal), step]) + ")")
            for _, a in equal:
                args.extend(a)
            if value is not None:
                args.append(value)
        equal.append((f"{expr} IS NULL", []) if value is None else (f"{expr} = ?", [value]))
    ors.append(
        "(" + " AND ".join([*(c for c, _ in equal), f"r.id {'<' if backward else '>'} ?"]) + ")"
    )
    for _, a in equal:
        args.extend(a)
    args.append(last_id)
    return "(" + " OR ".join(ors) + ")"


def _step(expr: str, descending: bool, value: Any, backward: bool) -> str | None:
    """One sort key beyond (before) the cursor's value; None when no value can be."""
    if not backward:  # later: further in the key's direction, or missing
        if value is None:
            return None
        return f"({expr} {'<' if descending else '>'} ? OR {expr} IS NULL)"
    if value is None:  # earlier than a missing value: any value
        return f"{expr} IS NOT NULL"
    return f"{expr} {'>' if descending else '<'} ?"  # NULL compares false: never earlier


WIDE = 1000
"""A driving filter with at least this many matches is better probed than driven: walking the
resources in id order finds a page after count / selectivity probes, while driving looks up
and sorts every match."""


def compile_width(query: SearchQuery) -> tuple[str, list[Any]] | None:
    """How many rows the driving filter matches, counted up to `WIDE` (None: no driver, or a
    sorted search, which must see every match anyway)."""
    driver = _driver(query)
    if driver is None or query.sort:
        return None
    args: list[Any] = []
    inner = _criterion(driver, query.type, args, drive=True).removeprefix("r.rk IN (")[:-1]
    return f"SELECT count(*) FROM ({inner} LIMIT {WIDE})", args


def compile_search(query: SearchQuery, drive: bool = True) -> tuple[str, list[Any]]:
    """The page's rows in the query's order; paging backwards, in the reverse order from the
    cursor (the store turns them around)."""
    args: list[Any] = []
    source, where = _where(query, args, drive)
    keys = [(_sort_expr(k, query.type), k.descending) for k in query.sort]
    back = query.backward
    if query.after_id is not None:
        if keys:
            *values, last_id = orjson.loads(query.after_id)
            where.append(_keyset(keys, values, last_id, args, back))
        else:
            where.append(f"r.id {'<' if back else '>'} ?")
            args.append(query.after_id)
    nulls, asc, desc = (" DESC", " DESC", "") if back else ("", "", " DESC")
    order = [f"{e} IS NULL{nulls}, {e}{desc if d else asc}" for e, d in keys]
    sql = (
        "SELECT v.type, v.id, v.version, v.ts, v.deleted, v.method, v.content"
        + "".join(f", {e}" for e, _ in keys)
        + f" FROM {source} JOIN version v ON v.seq = r.seq WHERE "
        + " AND ".join(where)
        + " ORDER BY "
        + ", ".join([*order, f"r.id{asc}"])
        + " LIMIT ?"
    )
    args.append(query.count + 1)
    return sql, args
