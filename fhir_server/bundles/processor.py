"""batch and transaction Bundles posted to the base (http://hl7.org/fhir/R4/http.html#transaction).

A transaction runs every entry in one unit of work, in the spec's order (DELETE, POST, PUT/PATCH,
GET) after resolving ``urn:uuid:`` and conditional references; any failure rolls all of it back.
A batch runs each entry on its own and reports each entry's outcome.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from fhir_server import fhir_json
from fhir_server.bundles.build import bundle, full_url
from fhir_server.bundles.references import (
    as_resolved,
    is_conditional_reference,
    reference_holders,
)
from fhir_server.checks import check_resource
from fhir_server.errors import FhirError, Invalid, Issue, MultipleMatches, PreconditionFailed
from fhir_server.interactions.common import (
    check_id,
    check_type,
    criteria_pairs,
    match,
    match_one,
    new_id,
)
from fhir_server.interactions.context import Context, FhirRequest, FhirResult
from fhir_server.interactions.create import create
from fhir_server.interactions.router import Handler
from fhir_server.store.base import UnitOfWork
from fhir_server.structure import parse_json

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass
class Entry:
    index: int
    full_url: str | None
    request: FhirRequest


def _status(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def _entry_request(base: str, raw: Any, index: int) -> Entry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
        raise Invalid(f"{where} has no request", [f"{where}.request"])
    full = raw.get("fullUrl")
    if full is not None and not isinstance(full, str):
        raise Invalid(f"{where}.fullUrl must be a string", [f"{where}.fullUrl"])
    r = raw["request"]
    method, url = r.get("method"), r.get("url")
    if not isinstance(method, str) or method not in _ORDER or not isinstance(url, str) or not url:
        raise Invalid(f"{where}.request needs a method and a url", [f"{where}.request"])
    for header in ("ifMatch", "ifNoneMatch", "ifNoneExist", "ifModifiedSince"):
        if r.get(header) is not None and not isinstance(r[header], str):
            raise Invalid(
                f"{where}.request.{header} must be a string", [f"{where}.request.{header}"]
            )
    if url.startswith(base):
        url = url[len(base) :]
    parts = urlsplit(url.lstrip("/"))
    path = [p for p in parts.path.split("/") if p]
    if len(path) >= 2 and path[1][:1] not in ("_", "$"):
        try:
            check_id(path[1])
        except FhirError as err:
            raise _located(err, index, f"{where}.request.url") from None
    req = FhirRequest(
        method=method,
        path=path,
        params=parse_qsl(parts.query, keep_blank_values=True),
        body=raw.get("resource"),
        content_type="json",
        if_match=r.get("ifMatch"),
        if_none_match=r.get("ifNoneMatch"),
        if_none_exist=r.get("ifNoneExist"),
    )
    return Entry(index, full, req)


def _parse(ctx: Context, req: FhirRequest) -> tuple[str, list[Entry]]:
    doc = parse_json(req.body) if isinstance(req.body, bytes | bytearray) else req.body
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        raise Invalid("POST to the base takes a Bundle of type batch or transaction")
    kind = doc.get("type")
    if kind not in ("batch", "transaction"):
        raise Invalid(f"Bundle.type must be batch or transaction, not {kind!r}", ["Bundle.type"])
    raw_entries = doc.get("entry", [])
    if not isinstance(raw_entries, list):
        raise Invalid("Bundle.entry must be a list", ["Bundle.entry"])
    return kind, [_entry_request(ctx.base_url, e, i) for i, e in enumerate(raw_entries)]


def _response_entry(ctx: Context, result: FhirResult, prefer: str | None) -> dict[str, Any]:
    response: dict[str, Any] = {"status": _status(result.status)}
    out: dict[str, Any] = {}
    stored = result.stored
    if stored is not None:
        out["fullUrl"] = full_url(ctx.base_url, stored)
        response["etag"] = stored.etag
        response["lastModified"] = stored.last_updated
        if result.location:
            response["location"] = f"{stored.type}/{stored.id}/_history/{stored.version}"
    if prefer != "minimal":
        if result.body is not None:
            out["resource"] = orjson.Fragment(result.body)
        elif stored is not None and stored.content is not None and result.status != 204:
            out["resource"] = orjson.Fragment(stored.content)
    if prefer == "OperationOutcome" and result.issues:
        response["outcome"] = {
            "resourceType": "OperationOutcome",
            "issue": [i.to_json() for i in result.issues],
        }
    out["response"] = response
    return out


def _error_entry(err: FhirError) -> dict[str, Any]:
    return {"response": {"status": _status(err.status), "outcome": err.outcome()}}


def _located(err: FhirError, index: int, at: str | None = None) -> FhirError:
    """Prefix the failing entry to every issue so the client knows which entry failed
    (``at``: the element of the entry each issue is about)."""
    where = f"Bundle.entry[{index}]"
    err.issues = [
        Issue(
            i.code,
            f"{where}: {i.diagnostics}",
            (at,) if at else i.expression or (where,),
            i.severity,
        )
        for i in err.issues
    ]
    return err


async def process(ctx: Context, req: FhirRequest, *, dispatch: Handler) -> FhirResult:
    kind, entries = _parse(ctx, req)
    if kind == "batch":
        return await _batch(ctx, entries, req.prefer_return, dispatch)
    return await _transaction(ctx, entries, req.prefer_return, dispatch)


async def _batch(
    ctx: Context, entries: list[Entry], prefer: str | None, dispatch: Handler
) -> FhirResult:
    out = []
    for entry in entries:
        sub = Context(ctx.store, ctx.settings, ctx.grant, ctx.base_url, security=ctx.security)
        try:
            result = await dispatch(sub, entry.request)
            out.append(_response_entry(ctx, result, prefer))
        except FhirError as err:
            out.append(_error_entry(err))
    return FhirResult(200, body=bundle("batch-response", out, []))


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


async def _assign_ids(ctx: Context, entries: list[Entry]) -> tuple[dict[str, str], dict[int, Any]]:
    """Ids for created resources (``fullUrl`` → ``Type/id``); conditional creates that match
    an existing resource take its id and are answered 200 without writing."""
    ids: dict[str, str] = {}
    matched: dict[int, Any] = {}
    for e in entries:
        path = e.request.path
        if e.request.method == "POST" and len(path) == 1:
            type_ = check_type(path[0])
            rid = new_id()
            if e.request.if_none_exist:
                try:
                    found = await match_one(ctx, type_, criteria_pairs(e.request.if_none_exist))
                except FhirError as err:
                    raise _located(err, e.index) from None
                if found is not None:
                    matched[e.index] = found
                    rid = found.id
            if e.full_url:
                ids[e.full_url] = f"{type_}/{rid}"
            if e.index not in matched:
                e.request.path, e.request.minted_id = [type_, rid], rid
        elif e.request.method == "PUT" and len(path) == 2 and e.full_url:
            ids[e.full_url] = "/".join(path)
        elif e.request.method == "PUT" and len(path) == 1 and e.full_url:
            # a conditional update: its fullUrl maps to the match, or to the id it will create
            type_ = check_type(path[0])
            try:
                found = await match_one(ctx, type_, e.request.params, letters="u")
            except FhirError as err:
                raise _located(err, e.index) from None
            body = e.request.body
            if found is not None:
                ids[e.full_url] = f"{type_}/{found.id}"
            elif isinstance(body, dict):
                if not body.get("id"):  # update-as-create with an id of the server's
                    body["id"] = e.request.minted_id = new_id()
                ids[e.full_url] = f"{type_}/{body['id']}"
    return ids, matched


async def _check_bodies(entries: list[Entry]) -> dict[int, list[dict[str, Any]]]:
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
                check_resource(check_type(r.path[0]), as_resolved(r.body, found))
            except FhirError as err:
                raise _located(err, e.index) from None
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
            elif ref.startswith(_URN_UUID):
                raise _unresolved(e.index, r.body, holder)
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


async def _rewrite(body: dict[str, Any], ids: dict[str, str], ctx: Context, index: int) -> bool:
    changed = False
    for holder in reference_holders(body):
        ref = holder["reference"]
        if ref in ids:
            holder["reference"] = ids[ref]
            changed = True
        elif is_conditional_reference(ref):
            ids[ref] = holder["reference"] = await _conditional_reference(ctx, ref)
            changed = True
        elif ref.startswith(_URN_UUID):  # the fullUrl of an entry that writes no resource
            raise _unresolved(index, body, holder)
    return changed


_URN_UUID = "urn:uuid:"


def _unresolved(index: int, body: dict[str, Any], holder: dict[str, Any]) -> FhirError:
    """A ``urn:uuid:`` reference that is the fullUrl of no resource the transaction writes:
    stored as it is, it would point nowhere (http.html#trules resolves them all)."""
    at = f"Bundle.entry[{index}].resource{_path_to(body, holder) or ''}.reference"
    return Invalid(
        f"Bundle.entry[{index}]: the reference {holder['reference']!r} is the fullUrl of no"
        " resource this transaction creates or updates",
        [at],
    )


def _path_to(node: Any, target: dict[str, Any], here: str = "") -> str | None:
    """Where ``target`` (an object inside ``node``) is, as ``.subject`` or ``.performer[1]``
    (only on the error path: a walk of the body)."""
    if node is target:
        return here
    if isinstance(node, dict):
        items: Any = ((f"{here}.{k}", v) for k, v in node.items())
    elif isinstance(node, list):
        items = ((f"{here}[{i}]", v) for i, v in enumerate(node))
    else:
        return None
    for where, value in items:
        found = _path_to(value, target, where)
        if found is not None:
            return found
    return None


async def _transaction(
    ctx: Context, entries: list[Entry], prefer: str | None, dispatch: Handler
) -> FhirResult:
    _check_unique_targets(entries)
    holders = await _check_bodies(entries)
    early_ids = await _prepare(ctx, entries, holders)

    async def work(uow: UnitOfWork) -> list[dict[str, Any]]:
        todo = [_fresh(e) for e in entries] if ctx.store.retries_work else entries
        ids: dict[str, str] = dict(early_ids)
        matched: dict[int, Any] = {}

        results: dict[int, dict[str, Any]] = {}
        changed: dict[str, int] = {}  # Type/id → the entry that wrote it (steps 1-3)
        assigned = False
        for e in sorted(todo, key=lambda e: _ORDER[e.request.method]):
            if e.request.method != "DELETE" and not assigned:
                # after the DELETEs, so a conditional create does not match what they removed
                new_ids, new_matched = await _assign_ids(ctx, todo)
                ids.update(new_ids)
                matched.update(new_matched)
                assigned = True
            try:
                final = e.request.index is not None  # its references were resolved early
                body = e.request.body
                if not final and isinstance(body, dict) and await _rewrite(body, ids, ctx, e.index):
                    e.request.index = None
                result = await _run(ctx, e, matched, dispatch)
                if _ORDER[e.request.method] < 3 and result.stored is not None:
                    _check_overlap(changed, result.stored.reference, e.index)
            except FhirError as err:
                raise _located(err, e.index) from None
            results[e.index] = _response_entry(ctx, result, prefer)
        return [results[e.index] for e in todo]

    out = await ctx.write(work)
    return FhirResult(200, body=bundle("transaction-response", out, []))


async def _run(ctx: Context, e: Entry, matched: dict[int, Any], dispatch: Handler) -> FhirResult:
    if e.index in matched:
        return FhirResult(200, matched[e.index], location=True)
    path = e.request.path
    if e.request.method == "POST" and len(path) == 2 and path[1] == e.request.minted_id:
        type_, rid = path  # a create with its id assigned; a client's POST Type/id is no create
        e.request.if_none_exist = None
        return await create(ctx, e.request, type_, rid)
    return await dispatch(ctx, e.request)


async def _conditional_reference(ctx: Context, ref: str) -> str:
    type_ = check_type(ref.split("?", 1)[0])
    found = await match(ctx, type_, criteria_pairs(ref))
    if len(found) != 1:
        cls = MultipleMatches if found else PreconditionFailed
        raise cls(f"The conditional reference {ref!r} matches {len(found)} resources, not one")
    return f"{type_}/{found[0].id}"
