"""MongoDB document shapes and indexes: every version once (``versions``), the current version of
each resource with its search index embedded (``resources``). See docs/implementation/storage.md.

Embedding the token index in the current document means an update replaces the index with the
same single-document write that moves the version pointer, so index and version cannot disagree.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from fhir_server.model import StoredResource
from fhir_server.search.model import Index

RESOURCES = "resources"
VERSIONS = "versions"
LOCKS = "locks"
"""One document per conditional-match key; writing it makes racing transactions conflict."""

RESOURCE_INDEXES = [
    # search: equality on type/deleted, results ordered (and keyset-paged) by id
    IndexModel([("type", ASCENDING), ("deleted", ASCENDING), ("id", ASCENDING)], name="by_type_id"),
    # token search: multikey over the embedded index entries
    IndexModel(
        [("type", ASCENDING), ("tok.p", ASCENDING), ("tok.c", ASCENDING), ("tok.s", ASCENDING)],
        name="by_token",
    ),
]

VERSIONS_INDEXES = [
    # vread, and the guard that two writers can never both create the same version
    IndexModel(
        [("type", ASCENDING), ("id", ASCENDING), ("version", ASCENDING)],
        name="by_resource_version",
        unique=True,
    ),
    # system history (and _since/_at ranges on ts), newest first
    IndexModel(
        [("ts", DESCENDING), ("type", DESCENDING), ("id", DESCENDING), ("version", DESCENDING)],
        name="history_system",
    ),
    # type history
    IndexModel(
        [("type", ASCENDING), ("ts", DESCENDING), ("id", DESCENDING), ("version", DESCENDING)],
        name="history_type",
    ),
    # instance history
    IndexModel(
        [("type", ASCENDING), ("id", ASCENDING), ("ts", DESCENDING), ("version", DESCENDING)],
        name="history_instance",
    ),
]

RESOURCE_PROJECTION = {"tok": 0}
"""The index entries are never needed to answer a read or a search."""

VERSION_PROJECTION = {"_id": 0, "until_ts": 0}


def resource_key(type_: str, id_: str) -> str:
    """``_id`` of the current document: FHIR ids cannot contain ``/``, so this is unambiguous."""
    return f"{type_}/{id_}"


def resource_doc(new: StoredResource, index: Index | None) -> dict[str, Any]:
    """The current-version document, search index included (empty for a tombstone)."""
    tokens = index.tokens if index is not None and not new.deleted else ()
    return {
        "_id": resource_key(new.type, new.id),
        "type": new.type,
        "id": new.id,
        "version": new.version,
        "ts": new.ts,
        "deleted": new.deleted,
        "method": new.method,
        "content": new.content,
        "tok": [{"p": p, "s": s, "c": c} for p, s, c in tokens],
    }


def version_doc(new: StoredResource) -> dict[str, Any]:
    """One history entry; ``until_ts`` is set when the next version supersedes it."""
    return {
        "_id": f"{new.type}/{new.id}/{new.version}",
        "type": new.type,
        "id": new.id,
        "version": new.version,
        "ts": new.ts,
        "until_ts": None,
        "deleted": new.deleted,
        "method": new.method,
        "content": new.content,
    }


def stored(doc: dict[str, Any]) -> StoredResource:
    """BSON binary subtype 0 decodes to ``bytes``: the bytes served are the bytes written."""
    content = doc.get("content")
    return StoredResource(
        doc["type"],
        doc["id"],
        doc["version"],
        doc["ts"],
        bool(doc["deleted"]),
        doc["method"],
        bytes(content) if content is not None else None,
    )
