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

import fhirpathpy
import orjson
from fhirpathpy.models import models

from fhir_server.errors import Invalid
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.fhirpath import compile_expression
from fhir_server.search.model import SearchQuery
from fhir_server.search.registry import (
    SUPPORTED,
    SearchParam,
    builtin_params,
    params_for,
    set_custom,
)
from fhir_server.store.base import HistoryQuery, Store
from fhir_server.store.sqlite.schema import INDEX_SUFFIXES, param_key

log = logging.getLogger(__name__)

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_RECHECK_SECONDS = 1.0


def check(resource: dict[str, Any]) -> None:
    """Refuse (400, naming the element) a SearchParameter the server could not search with."""
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
    for i, base in enumerate(resource.get("base") or []):
        _check_base(resource, base, i, code, expression)


def _check_base(resource: dict[str, Any], base: Any, i: int, code: str, expression: str) -> None:
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
    other = params_for(base).get(code)
    if other is not None and other.url != resource.get("url"):
        raise Invalid(
            f"{base} already has a custom parameter {code!r} ({other.url})",
            ["SearchParameter.code"],
        )
    _check_key(resource, base, code)
    try:  # fhirpathpy compiles leniently: an unknown function or wrong arity shows when run
        compile_expression(expression, base)
        fhirpathpy.evaluate({"resourceType": base}, expression, model=models["r4"])
    except Exception as err:  # fhirpathpy raises plain Exceptions
        raise Invalid(
            f"SearchParameter.expression cannot be evaluated on {base}: {err}",
            ["SearchParameter.expression"],
        ) from None


def _check_key(resource: dict[str, Any], base: str, code: str) -> None:
    """Refuse a code whose index key (see `param_key`: custom keys lie apart from the
    specification's) equals another custom parameter's of the same base: the two would read
    each other's values. With 62-bit keys only a code crafted to collide ever is."""
    keys = {param_key(base, code + suffix) for suffix in INDEX_SUFFIXES}
    builtin = builtin_params(base)
    for name, other in params_for(base).items():
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
    """This process's view of the store's SearchParameters."""

    def __init__(self) -> None:
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
        set_custom(loaded)
        if changed and written and not first:
            task = asyncio.create_task(_reindex(store, sorted(changed)))
            self._reindexing.add(task)
            task.add_done_callback(self._reindexing.discard)

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
                out.setdefault(base, {}).setdefault(param.name, param)
        if page.next_cursor is None:
            return out
        query.after_id = page.next_cursor


async def _reindex(store: Store, types: list[str]) -> None:
    try:
        for type_ in types:
            done = 0
            async for n in store.reindex_type(type_):
                done += n
            log.info("search parameters changed: reindexed %d %s resources", done, type_)
    except Exception:
        log.exception("reindexing after a SearchParameter change failed; run fhir-server reindex")


CUSTOM = CustomParameters()
