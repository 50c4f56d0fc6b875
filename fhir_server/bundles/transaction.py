"""A transaction Bundle: every entry in one unit of work, in the spec's order (DELETE, POST,
PUT/PATCH, GET) after resolving ``urn:uuid:`` and conditional references; any failure rolls all
of it back (http://hl7.org/fhir/R4/http.html#trules). Validation and what can be resolved
without the store run before the write lock."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from fhir_server import fhir_json
from fhir_server.bundles.build import bundle
from fhir_server.bundles.entries import ORDER, Entry, located, response_entry
from fhir_server.bundles.ids import URN_UUID, assign_ids, rewrite_references, unresolved
from fhir_server.bundles.references import (
    as_resolved,
    is_conditional_reference,
    reference_holders,
)
from fhir_server.errors import FhirError, Invalid, Issue, StillReferenced, UnresolvedReference
from fhir_server.interactions.common import (
    check_type,
    new_id,
)
from fhir_server.interactions.context import Context, FhirResult, Handler
from fhir_server.interactions.create import create
from fhir_server.store.base import UnitOfWork


def _check_unique_targets(entries: list[Entry]) -> None:
    seen: dict[str, int] = {}
    for e in entries:
        if e.request.method in ("PUT", "PATCH", "DELETE") and len(e.request.path) == 2:
            key = "/".join(e.request.path)
            if key in seen:
                raise Invalid(
                    f"Bundle.entry[{seen[key]}] and Bundle.entry[{e.index}] both change {key}",
                    [f"Bundle.entry[{e.index}].request.url"],
                )
            seen[key] = e.index


def _check_overlap(changed: dict[str, int], reference: str, index: int) -> None:
    """http.html#trules: "If any resource identities (including resolved identities from
    conditional update/delete) overlap in steps 1-3, then the transaction SHALL fail"."""
    if reference in changed:
        raise Invalid(
            f"Bundle.entry[{changed[reference]}] and Bundle.entry[{index}] both change {reference}",
            [f"Bundle.entry[{index}].request.url"],
        )
    changed[reference] = index


async def _check_bodies(ctx: Context, entries: list[Entry]) -> dict[int, list[dict[str, Any]]]:
    """Validate every resource to be written before the unit of work begins: validation is the
    costliest step and must not hold the store's write lock. The loop gets a turn every few
    entries, so a unit of work waiting for the lock and reads are not held up by a whole
    Bundle's validation. Returns each checked body's reference holders (entry index → holders),
    which `_prepare` rewrites without walking the body again."""
    holders: dict[int, list[dict[str, Any]]] = {}
    for n, e in enumerate(entries):
        if n % _TURN == _TURN - 1:
            await asyncio.sleep(0)
        r = e.request
        if r.method in ("POST", "PUT") and 1 <= len(r.path) <= 2 and isinstance(r.body, dict):
            if r.path[0][:1] in ("_", "$") or r.path[-1][:1] in ("_", "$"):
                continue
            found = reference_holders(r.body)
            try:
                ctx.services.checks.check_resource(
                    check_type(r.path[0]), as_resolved(r.body, found), r.warnings
                )
            except FhirError as err:
                raise located(err, e.index) from None
            r.body_checked = True
            holders[e.index] = found
    return holders


_TURN = 10
"""Entries validated or indexed between two turns of the loop (~1-2 ms)."""


async def _prepare(
    ctx: Context, entries: list[Entry], holders: dict[int, list[dict[str, Any]]]
) -> dict[str, str]:
    """Before the write lock: give plain creates their ids, point references to them and to
    PUT targets at their ``Type/id``, and extract the search index of every body that is then
    final — so neither holds the lock. What depends on the store's state (conditional creates,
    updates and references) is resolved inside the unit of work, and a body changed there
    loses its early index."""
    ids: dict[str, str] = {}
    for e in entries:
        r = e.request
        if r.method == "POST" and len(r.path) == 1 and not r.if_none_exist:
            r.minted_id = new_id()
            r.path = [check_type(r.path[0]), r.minted_id]
            if e.full_url:
                ids[e.full_url] = "/".join(r.path)
        elif r.method == "PUT" and len(r.path) == 2 and e.full_url:
            ids[e.full_url] = "/".join(r.path)
    pending = {e.full_url for e in entries if e.full_url and e.full_url not in ids}
    for n, e in enumerate(entries):
        if n % _TURN == _TURN - 1:
            await asyncio.sleep(0)
        r = e.request
        if not (r.body_checked and isinstance(r.body, dict) and len(r.path) == 2):
            continue
        final = True
        for holder in holders[e.index]:
            ref = holder["reference"]
            if ref in ids:
                holder["reference"] = ids[ref]
            elif ref in pending or is_conditional_reference(ref):
                final = False
            elif ref.startswith(URN_UUID):
                raise unresolved(e.index, r.body, holder)
        if final:
            r.index = ctx.store.indexer(r.path[0], r.body)
    return ids


def _fresh(e: Entry) -> Entry:
    """A copy of the entry the unit of work may change (ids, references); retried work starts
    again from the original."""
    r = e.request
    body = fhir_json.copy(r.body) if isinstance(r.body, dict) else r.body
    return Entry(
        e.index, e.full_url, replace(r, path=list(r.path), params=list(r.params), body=body)
    )


async def transaction(
    ctx: Context, entries: list[Entry], prefer: str | None, dispatch: Handler
) -> FhirResult:
    _check_unique_targets(entries)
    holders = await _check_bodies(ctx, entries)
    early_ids = await _prepare(ctx, entries, holders)

    written_by: dict[tuple[str, str], int] = {}  # (type, id) → the entry that wrote it

    async def work(uow: UnitOfWork) -> list[dict[str, Any]]:
        written_by.clear()
        todo = [_fresh(e) for e in entries] if ctx.store.retries_work else entries
        ids: dict[str, str] = dict(early_ids)
        matched: dict[int, Any] = {}

        results: dict[int, dict[str, Any]] = {}
        changed: dict[str, int] = {}  # Type/id → the entry that wrote it (steps 1-3)
        assigned = False
        for e in sorted(todo, key=lambda e: ORDER[e.request.method]):
            if e.request.method != "DELETE" and not assigned:
                # after the DELETEs, so a conditional create does not match what they removed
                new_ids, new_matched = await assign_ids(ctx, todo)
                ids.update(new_ids)
                matched.update(new_matched)
                assigned = True
            try:
                final = e.request.index is not None  # its references were resolved early
                body = e.request.body
                if (
                    not final
                    and isinstance(body, dict)
                    and await rewrite_references(body, ids, ctx, e.index)
                ):
                    e.request.index = None
                result = await _run(ctx, e, matched, dispatch)
                if result.stored is not None:
                    written_by[(result.stored.type, result.stored.id)] = e.index
                if ORDER[e.request.method] < 3 and result.stored is not None:
                    _check_overlap(changed, result.stored.reference, e.index)
            except FhirError as err:
                raise located(err, e.index) from None
            results[e.index] = response_entry(ctx, e.request, result, prefer)
        return [results[e.index] for e in todo]

    if any(e.request.method in ("GET", "HEAD") for e in entries):
        # its reads run inside its unit of work, where the store's journal is not drained
        await ctx.store.drain_deferred(None)
    try:
        out = await ctx.write(work)
    except UnresolvedReference as err:
        raise _entries_named(err, err.sources, written_by, ".resource") from None
    except StillReferenced as err:
        raise _entries_named(err, err.targets, written_by, "") from None
    return FhirResult(200, body=bundle("transaction-response", out, []))


def _entries_named(
    err: FhirError, about: list[tuple[str, str]], written_by: dict[tuple[str, str], int], at: str
) -> FhirError:
    """Referential integrity is checked after the last entry: each issue is told which entry
    wrote the resource it is about — ``at`` ``.resource``: the element in that entry's resource
    (``CarePlan.subject`` → ``Bundle.entry[1].resource.subject``); ``''``: the entry."""
    issues = []
    for issue, key in zip(err.issues, about, strict=False):
        index = written_by.get(key)
        if index is None:
            issues.append(issue)
            continue
        where = f"Bundle.entry[{index}]"
        if at:
            expression = tuple(where + at + e[len(key[0]) :] for e in issue.expression)
        else:
            expression = (where,)
        issues.append(
            Issue(issue.code, f"{where}: {issue.diagnostics}", expression, issue.severity)
        )
    err.issues = issues
    return err


async def _run(ctx: Context, e: Entry, matched: dict[int, Any], dispatch: Handler) -> FhirResult:
    if e.index in matched:
        return FhirResult(200, matched[e.index], location=True)
    path = e.request.path
    if e.request.method == "POST" and len(path) == 2 and path[1] == e.request.minted_id:
        type_, rid = path  # a create with its id assigned; a client's POST Type/id is no create
        e.request.if_none_exist = None
        return await create(ctx, e.request, type_, rid)
    return await dispatch(ctx, e.request)
