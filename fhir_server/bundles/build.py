"""Bundle assembly from stored bytes: resources are embedded as they are stored, never re-parsed."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import orjson

from fhir_server import fhir_json
from fhir_server.stored import StoredResource, instant, now_us


def full_url(base: str, stored: StoredResource) -> str:
    return f"{base}/{stored.type}/{stored.id}"


def bundle(
    type_: str, entries: list[dict[str, Any]], links: list[tuple[str, str]], **extra: Any
) -> bytes:
    doc: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": instant(now_us())},
        "type": type_,
        **extra,
    }
    if links:
        doc["link"] = [{"relation": rel, "url": url} for rel, url in links]
    doc["entry"] = entries
    return fhir_json.dumps(doc)


def resource_fragment(stored: StoredResource) -> orjson.Fragment:
    return orjson.Fragment(stored.content or b"{}")


def page_url(url: str, params: list[tuple[str, str]], cursor: str | None = None) -> str:
    pairs = [(k, v) for k, v in params if k != "_cursor"]
    if cursor is not None:
        pairs.append(("_cursor", cursor))
    return f"{url}?{urlencode(pairs)}" if pairs else url
