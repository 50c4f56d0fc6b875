"""The entries of a batch or transaction Bundle: each entry's request read from the Bundle, and
each result or error written back as a response entry naming the entry it is about."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from fhir_server.bundles.build import full_url
from fhir_server.errors import FhirError, Invalid, Issue
from fhir_server.http import codecs
from fhir_server.interactions.common import (
    check_id,
)
from fhir_server.interactions.context import Context, FhirRequest, FhirResult, warned
from fhir_server.representation import WHOLE, Shape, returned

ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


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
    if not isinstance(method, str) or method not in ORDER or not isinstance(url, str) or not url:
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
            raise located(err, index, f"{where}.request.url") from None
    resource = raw.get("resource")
    req = FhirRequest(
        method=method,
        path=path,
        params=parse_qsl(parts.query, keep_blank_values=True),
        body=resource,
        content_type=None if resource is None else "fhir",
        if_match=r.get("ifMatch"),
        if_none_match=r.get("ifNoneMatch"),
        if_none_exist=r.get("ifNoneExist"),
    )
    if (
        method == "PATCH"
        and isinstance(resource, dict)
        and resource.get("resourceType") == "Binary"
    ):
        req.body, req.content_type = None, "json-patch"
        req.decode = partial(_binary_patch, resource)
    return Entry(index, full, req)


def _binary_patch(binary: dict[str, Any]) -> Any:
    """The JSON Patch document a PATCH entry carries as a Binary (a Bundle entry holds only a
    resource): its base64 data, decoded as the HTTP layer decodes a JSON Patch body, when the
    patch interaction asks for it."""
    try:
        raw = base64.b64decode(binary.get("data", ""), validate=True)
    except (ValueError, TypeError) as err:  # binascii.Error is a ValueError
        raise Invalid(f"Binary.data is not base64: {err}", ["Binary.data"]) from err
    return codecs.decode("json-patch", raw)


def parse_bundle(ctx: Context, req: FhirRequest) -> tuple[str, list[Entry]]:
    doc = req.document()
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        raise Invalid("POST to the base takes a Bundle of type batch or transaction")
    kind = doc.get("type")
    if kind not in ("batch", "transaction"):
        raise Invalid(f"Bundle.type must be batch or transaction, not {kind!r}", ["Bundle.type"])
    raw_entries = doc.get("entry", [])
    if not isinstance(raw_entries, list):
        raise Invalid("Bundle.entry must be a list", ["Bundle.entry"])
    return kind, [_entry_request(ctx.base_url, e, i) for i, e in enumerate(raw_entries)]


def response_entry(
    ctx: Context, req: FhirRequest, result: FhirResult, prefer: str | None
) -> dict[str, Any]:
    """The response entry for ``req``'s ``result``: its resource shown as an HTTP response
    would show it (`representation`: a read in the shape its ``_summary``/``_elements`` ask
    for, a write whole; nothing under ``Prefer: return=minimal``), the outcome preferred in
    ``response.outcome``."""
    result = warned(req, result)
    shape = Shape.of(req.params) if req.method in ("GET", "HEAD") else WHOLE
    response: dict[str, Any] = {"status": _status(result.status)}
    out: dict[str, Any] = {}
    stored = result.stored
    if stored is not None:
        out["fullUrl"] = full_url(ctx.base_url, stored)
        response["etag"] = stored.etag
        response["lastModified"] = stored.last_updated
        if result.location:
            response["location"] = f"{stored.type}/{stored.id}/_history/{stored.version}"
    shown = returned(result, shape, prefer)
    if shown is not None:
        out["resource"] = orjson.Fragment(shown)
    if prefer == "OperationOutcome" and result.issues:
        response["outcome"] = {
            "resourceType": "OperationOutcome",
            "issue": [i.to_json() for i in result.issues],
        }
    out["response"] = response
    return out


def error_entry(err: FhirError) -> dict[str, Any]:
    return {"response": {"status": _status(err.status), "outcome": err.outcome()}}


def located(err: FhirError, index: int, at: str | None = None) -> FhirError:
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
