"""SearchParameter resources stored on the server become search parameters of their base types.

A SearchParameter is checked when it is written, so a parameter the server could not index is
refused instead of silently doing nothing. Active ones are loaded from the store at start and
again whenever the newest SearchParameter version changes: at once after this process writes
one, otherwise checked at most once a second (other server processes on the same store).
Values of a new or changed parameter exist only for resources written afterwards until their
types are reindexed: the process that stored the parameter reindexes them in the background
(``fhir-server reindex`` does the same offline).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import orjson
from fhirpathpy.parser import parse

from fhir_server.errors import Invalid
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.fhirpath import compile_expression, union_parts
from fhir_server.search.registry import (
    SUPPORTED,
    KnownParameters,
    SearchParam,
    SearchParameters,
    builtin_params,
)
from fhir_server.search.terms import SearchQuery
from fhir_server.store.base import HistoryQuery, Store
from fhir_server.store.sqlite.schema import INDEX_SUFFIXES, param_key
from profiles.validation import compile_fhirpath

log = logging.getLogger(__name__)

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_RECHECK_SECONDS = 1.0

MAX_EXPRESSION = 4096
"""Characters of a custom parameter's expression: it runs on every write of its base types and
on every stored one when they are reindexed."""

_UNBOUNDED = frozenset(
    {
        "descendants",  # every element of the resource, each time it is called
        "repeat",
        "aggregate",
        "defineVariable",  # a collection named once, used inside per-element functions
        "trace",
        "distinct",  # fhirpathpy compares elements pairwise: quadratic in the collection
        "isDistinct",
        "union",
        "intersect",
        "exclude",
        "subsetOf",
        "supersetOf",
    }
)
"""FHIRPath functions a custom parameter may not call: their work is not bounded by the
resource's size times the expression's."""
_CONSTANTS = ("ucum", "sct", "loinc", "vs-", "ext-")
"""Environment variables a custom parameter may use: constant strings. ``%context``,
``%resource``, ``%rootResource`` would restart from the resource inside a ``select`` on each of
its elements, so nested ones multiply."""


def check(params: KnownParameters, resource: dict[str, Any]) -> None:
    """Refuse (400, naming the element) a SearchParameter the server (with ``params``) could
    not search with."""
    code, kind, expression = resource.get("code"), resource.get("type"), resource.get("expression")
    if not isinstance(code, str) or not _CODE.match(code):
        raise Invalid(
            f"SearchParameter.code {code!r} must be a name usable in a query"
            " (a letter, then letters, digits, '-' or '_')",
            ["SearchParameter.code"],
        )
    if kind not in SUPPORTED:
        raise Invalid(
            f"SearchParameter.type {kind!r} is not supported for custom parameters"
            f" (supported: {', '.join(sorted(SUPPORTED))})",
            ["SearchParameter.type"],
        )
    if not isinstance(expression, str) or not expression.strip():
        raise Invalid("SearchParameter.expression is required", ["SearchParameter.expression"])
    check_cost(expression)
    for i, base in enumerate(resource.get("base") or []):
        _check_base(params, resource, base, i, code, expression)


def _check_base(
    params: KnownParameters, resource: dict[str, Any], base: Any, i: int, code: str, expression: str
) -> None:
    if base not in SERVED_TYPES:
        raise Invalid(
            f"SearchParameter.base {base!r} is not a type this server serves",
            [f"SearchParameter.base[{i}]"],
        )
    if code in builtin_params(base):
        raise Invalid(
            f"{base} already has the parameter {code!r} from the FHIR specification",
            ["SearchParameter.code"],
        )
    other = params.params_for(base).get(code)
    if other is not None and other.url != resource.get("url"):
        raise Invalid(
            f"{base} already has a custom parameter {code!r} ({other.url})",
            ["SearchParameter.code"],
        )
    _check_key(params, resource, base, code)
    try:  # fhirpathpy compiles leniently: an unknown function or wrong arity shows when run
        compile_expression(expression, base)
        compile_fhirpath(expression).evaluate({"resourceType": base})
    except Exception as err:  # the fallback raises plain Exceptions
        raise Invalid(
            f"SearchParameter.expression cannot be evaluated on {base}: {err}",
            ["SearchParameter.expression"],
        ) from None


def check_cost(expression: str) -> None:
    """Refuse an expression whose evaluation could cost more than a walk of the paths it names:
    longer than `MAX_EXPRESSION`, calling an `_UNBOUNDED` function, reading an environment
    variable that is not a constant, or a union (``|``) inside a path — unions only between
    whole paths, which are evaluated one after the other (`fhirpath.union_parts`)."""
    if len(expression) > MAX_EXPRESSION:
        raise Invalid(
            f"SearchParameter.expression has {len(expression)} characters; at most"
            f" {MAX_EXPRESSION} are allowed",
            ["SearchParameter.expression"],
        )
    for part in union_parts(expression):
        try:
            nodes = [parse(part)]
        except Exception as err:  # the ANTLR parser raises plain Exceptions (RecursionError too)
            raise Invalid(
                f"SearchParameter.expression is not FHIRPath: {err}", ["SearchParameter.expression"]
            ) from None
        while nodes:
            node = nodes.pop()
            if not isinstance(node, dict):
                continue
            children = node.get("children") or []
            nodes.extend(children)
            kind = node.get("type")
            if kind == "UnionExpression":
                _costly("'|' inside a path (use it only between whole paths)")
            name = str(children[0].get("text") or "").strip("`'") if children else ""
            if kind == "Functn" and name in _UNBOUNDED:
                _costly(f"the function {name}()")
            if kind == "ExternalConstant" and not name.startswith(_CONSTANTS):
                _costly(f"the variable %{name}")


def _costly(what: str) -> None:
    raise Invalid(
        f"SearchParameter.expression uses {what}, whose cost is not bounded by the resource's"
        " size: custom search parameters may not",
        ["SearchParameter.expression"],
    )


def _check_key(params: KnownParameters, resource: dict[str, Any], base: str, code: str) -> None:
    """Refuse a code whose index key (see `param_key`: custom keys lie apart from the
    specification's) equals another custom parameter's of the same base: the two would read
    each other's values. With 62-bit keys only a code crafted to collide ever is."""
    keys = {param_key(base, code + suffix) for suffix in INDEX_SUFFIXES}
    builtin = builtin_params(base)
    for name, other in params.params_for(base).items():
        if name in builtin or other.url == resource.get("url"):
            continue
        if keys & {param_key(base, name + suffix) for suffix in INDEX_SUFFIXES}:
            raise Invalid(
                f"SearchParameter.code {code!r} shares its index key with {base}'s custom"
                f" parameter {name!r} ({other.url}): choose another code",
                ["SearchParameter.code"],
            )


def _params(resource: dict[str, Any]) -> list[tuple[str, SearchParam]]:
    """(base type, parameter) for an active SearchParameter; nothing for any other status."""
    if resource.get("status") != "active":
        return []
    param = SearchParam(
        resource["code"],
        resource["type"],
        resource["expression"],
        tuple(resource.get("target") or ()),
        resource.get("url") or f"SearchParameter/{resource.get('id')}",
    )
    return [(base, param) for base in resource.get("base") or [] if base in SERVED_TYPES]


class CustomParameters:
    """One server's view of its store's SearchParameters, kept in its `SearchParameters`
    (app-scoped, `fhir_server.services`)."""

    def __init__(self, params: SearchParameters) -> None:
        self.params = params
        self._store: Store | None = None
        self._newest: tuple[str, int] | None = None
        self._checked = 0.0
        self._loaded: dict[str, dict[str, SearchParam]] = {}
        self._reindexing: set[asyncio.Task[None]] = set()

    async def sync(self, store: Store, *, written: bool = False) -> None:
        """Reload if the store's SearchParameters changed; ``written`` when this process just
        wrote to them (then changed types are reindexed in the background)."""
        now = time.monotonic()
        if store is self._store and not written and now - self._checked < _RECHECK_SECONDS:
            return
        self._checked = now
        page = await store.history(HistoryQuery(type="SearchParameter", count=1))
        newest = (page.items[0].id, page.items[0].version) if page.items else None
        if store is self._store and newest == self._newest:
            return
        first = store is not self._store
        self._store, self._newest = store, newest
        loaded = await _load(store)
        changed = {
            t for t in set(loaded) | set(self._loaded) if loaded.get(t) != self._loaded.get(t)
        }
        self._loaded = loaded
        self.params.set_custom(loaded)
        if changed and written and not first:
            task = asyncio.create_task(_reindex(store, sorted(changed)))
            self._reindexing.add(task)
            task.add_done_callback(self._reindexing.discard)

    @property
    def reindexing(self) -> bool:
        """Whether a background reindex this process started is still running."""
        return any(not task.done() for task in self._reindexing)

    async def reindexed(self) -> None:
        """Wait for the background reindexing this process started (tests, shutdown)."""
        while self._reindexing:
            await asyncio.gather(*self._reindexing, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._reindexing):
            task.cancel()
        await self.reindexed()
        self._store = None


async def _load(store: Store) -> dict[str, dict[str, SearchParam]]:
    out: dict[str, dict[str, SearchParam]] = {}
    query = SearchQuery("SearchParameter", count=500)
    while True:
        page = await store.search(query)
        for stored in page.items:
            for base, param in _params(orjson.loads(stored.content or b"{}")):
                if _affordable(param):
                    out.setdefault(base, {}).setdefault(param.name, param)
        if page.next_cursor is None:
            return out
        query.after_id = page.next_cursor


def _affordable(param: SearchParam) -> bool:
    """Whether a stored parameter passes today's `check_cost` (one stored before the limits
    were is left out, with a warning, rather than run on every write)."""
    try:
        check_cost(param.expression or "")
    except Invalid as err:
        log.warning("custom search parameter %s is not used: %s", param.url, err)
        return False
    return True


_REINDEX_BATCH = 100
"""Resources per unit of work of a background reindex: the loop serves other requests between
batches (their expressions are evaluated on a worker thread, `Store.reindex_type`)."""


async def _reindex(store: Store, types: list[str]) -> None:
    try:
        for type_ in types:
            done = 0
            async for n in store.reindex_type(type_, batch=_REINDEX_BATCH):
                done += n
            log.info("search parameters changed: reindexed %d %s resources", done, type_)
    except Exception:
        log.exception("reindexing after a SearchParameter change failed; run fhir-server reindex")
