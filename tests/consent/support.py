"""Asking the world as a principal, and judging the answers: exact ids, exact totals, pages that
do not reveal hidden rows, and hidden answers indistinguishable from never-existing ones."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from tests.api.support import BASE
from tests.auth.conftest import Server, bearer
from tests.consent.world import NEVER, PATIENT_DATA

HEADERS = ("content-type", "etag", "location", "content-location", "last-modified", "allow")


async def get(server: Server, url: str, token: str) -> httpx.Response:
    return await server.client.get(url, headers=bearer(token))


def entries(bundle: dict[str, Any], mode: str | None = None) -> list[str]:
    """``Type/id`` of the Bundle's resources (OperationOutcomes left out), in order; with
    ``mode`` only the entries of that search mode (``match``, ``include``)."""
    out = []
    for e in bundle.get("entry") or []:
        r = e.get("resource")
        if r is None or r["resourceType"] == "OperationOutcome":
            continue
        if mode is None or (e.get("search") or {}).get("mode") == mode:
            out.append(f"{r['resourceType']}/{r['id']}")
    return out


def patient_data(keys: list[str] | set[str] | frozenset[str]) -> set[str]:
    return {k for k in keys if k.split("/", 1)[0] in PATIENT_DATA}


async def found(server: Server, url: str, token: str) -> tuple[list[str], int | None]:
    """The ids a search answers (one page, asked big enough) and its ``total``."""
    resp = await get(server, url, token)
    assert resp.status_code == 200, (url, resp.text[:500])
    body = resp.json()
    return entries(body), body.get("total")


async def pages(server: Server, url: str, token: str) -> list[list[str]]:
    """Every page of a search, following ``next`` links, as ids per page."""
    out: list[list[str]] = []
    while url:
        resp = await get(server, url, token)
        assert resp.status_code == 200, (url, resp.text[:500])
        body = resp.json()
        out.append(entries(body))
        url = next((ln["url"] for ln in body.get("link", []) if ln["relation"] == "next"), "")
        url = url.removeprefix(BASE + "/")
        assert len(out) < 100, "paging does not end"
    return out


def _normal_link(url: str) -> str:
    """A link without its opaque cursor (which encodes a position, not data)."""
    parts = urlsplit(url)
    query = [(k, "cursor" if k == "_cursor" else v) for k, v in parse_qsl(parts.query, True)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _normal(doc: Any, strict: bool) -> Any:
    """A body with what differs between any two answers left out: a Bundle's own id, meta and
    timestamp, response ids and times; and, unless ``strict``, the OperationOutcomes the design
    lets a related clinician see (search mode ``outcome``, and a 404's diagnostics)."""
    if isinstance(doc, dict):
        out = {k: _normal(v, strict) for k, v in doc.items()}
        if out.get("resourceType") == "Bundle":
            for name in ("id", "meta", "timestamp"):
                out.pop(name, None)
            for link in out.get("link", []):
                link["url"] = _normal_link(link["url"])
            if not strict:
                out["entry"] = [
                    e
                    for e in out.get("entry", [])
                    if (e.get("resource") or {}).get("resourceType") != "OperationOutcome"
                ]
        if out.get("resourceType") == "OperationOutcome" and not strict:
            out["issue"] = [{"code": i.get("code")} for i in out.get("issue", [])]
        if "response" in out and isinstance(out["response"], dict):
            out["response"].pop("lastModified", None)
        return out
    if isinstance(doc, list):
        return [_normal(v, strict) for v in doc]
    return doc


def indistinguishable(
    hidden: httpx.Response, never: httpx.Response, swaps: dict[str, str], strict: bool = True
) -> None:
    """``hidden`` (about data the caller may not see) answers exactly as ``never`` (about data
    that never existed) once the ids in ``swaps`` (hidden → never) are swapped."""

    def swap(text: str) -> str:
        for a, b in sorted(swaps.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(a, b)
        return text

    assert hidden.status_code == never.status_code, (hidden.text[:800], never.text[:800])
    for name in HEADERS:
        assert swap(hidden.headers.get(name) or "") == (never.headers.get(name) or ""), name
    if not never.content:
        assert not hidden.content, hidden.text[:800]
        return
    a = _normal(json.loads(swap(hidden.text)), strict)
    b = _normal(never.json(), strict)
    assert a == b, (a, b)


def never_swaps(patient: str, *ids: str) -> dict[str, str]:
    """Hidden patient id and resource ids → ids that never existed."""
    out = {patient: NEVER}
    for i, key in enumerate(ids):
        out.setdefault(key.split("/", 1)[1], f"{NEVER}-{i}")  # the Patient keeps NEVER
    return out
