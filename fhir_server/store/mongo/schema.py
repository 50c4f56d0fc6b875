"""MongoDB document shapes and indexes: every version once (``versions``), the current version of
each resource with its search index embedded (``resources``). See docs/implementation/storage.md.

Embedding the search index in the current document means an update replaces the index with the
same single-document write that moves the version pointer, so index and version cannot disagree.

The index is one array per kind, each entry starting with the parameter name ``p``:

=========  ==========================  ============================================================
field      entries                     from `Index`
=========  ==========================  ============================================================
``tok``    ``{p, s, c}``               tokens: system (null: none), code
``str``    ``{p, v}``                  strings: case- and accent-folded text (and ``param:text``)
``ex``     ``{p, v}``                  exact: text as written (``:exact``)
``dt``     ``{p, lo, hi}``             dates: [lo, hi) in µs
``num``    ``{p, lo, hi}``             numbers: a point, lo == hi
``qty``    ``{p, s, c, lo, hi}``       quantities: system, code (null: none), value as lo == hi
``ref``    ``{p, t, i, u}``            references: local type and id, or only url
``uri``    ``{p, v}``                  uris
``cmp``    ``{p, s, c, v, vs, lo, hi}`` composites: per element, the first component's token and
                                       the second's value (code/system or text; range)
``has``    ``[param, …]``              present: every parameter with a value (``:missing``)
=========  ==========================  ============================================================

All are empty for a tombstone. Each array has a multikey index led by ``type`` and ``<array>.p``
(`RESOURCE_INDEXES`); a query matches one entry with ``$elemMatch`` so that the parameter and
its value conditions hold for the same entry and bound the same index scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from fhir_server.care_relationships import CareRelationship
from fhir_server.errors import Invalid
from fhir_server.search.terms import Index
from fhir_server.stored import StoredResource

RESOURCES = "resources"
VERSIONS = "versions"
RELATIONSHIPS = "care_relationships"
"""One document per care relationship: ``{holder, patient, lo, hi, kind, src, rec}`` — derived
from the resource ``src`` (``Type/id``), or recorded for it (``rec``: `UnitOfWork.relate`)."""
DEFERRED = "deferred"
"""One document per resource appended to be stored and indexed later
(`UnitOfWork.append_deferred`): ``{_id: "Type/id", type, id, t: µs appended, content}``, taken
oldest first (`DEFERRED_INDEXES`) by `Store.index_deferred`."""
DEFERRED_INDEXES = [IndexModel([("t", ASCENDING)]), IndexModel([("type", ASCENDING)])]
OUTBOX = "outbox"
"""One document per item of a durable queue (`UnitOfWork.append_outbox`):
``{_id: "queue#n", q: queue, n, item}``; `OUTBOX_QUEUES` per queue ``{_id: queue, n, mark}``
(the last number given; a consumer's mark)."""
OUTBOX_QUEUES = "outbox_queues"
OUTBOX_INDEXES = [IndexModel([("q", ASCENDING), ("n", ASCENDING)], unique=True)]
LOCKS = "locks"
"""One document per locked key (the resource type of a conditional match); every transaction
that decides a write by a match of that type writes it, so racing deciders conflict."""

INDEX_FIELDS: dict[str, tuple[str, ...]] = {
    "tokens": ("tok", "s", "c"),
    "strings": ("str", "v"),
    "dates": ("dt", "lo", "hi"),
    "numbers": ("num", "lo", "hi"),
    "quantities": ("qty", "s", "c", "lo", "hi"),
    "references": ("ref", "t", "i", "u"),
    "uris": ("uri", "v"),
    "composites": ("cmp", "s", "c", "v", "vs", "lo", "hi"),
}
"""`Index` field → (array, entry fields after ``p``), in the order of the `Index` rows."""

PRESENT = "has"

EXACT = "ex"

INDEX_ARRAYS = (*(f[0] for f in INDEX_FIELDS.values()), EXACT, PRESENT)


def _array_index(name: str, array: str, *fields: str) -> IndexModel:
    keys = [("type", ASCENDING), (f"{array}.p", ASCENDING)]
    keys.extend((f"{array}.{f}", ASCENDING) for f in fields)
    return IndexModel(keys, name=name)


RESOURCE_INDEXES = [
    # search: equality on type/deleted, results ordered (and keyset-paged) by id
    IndexModel([("type", ASCENDING), ("deleted", ASCENDING), ("id", ASCENDING)], name="by_type_id"),
    # search: one multikey index per embedded index array, led by type and parameter name
    _array_index("by_token", "tok", "c", "s"),
    _array_index("by_string", "str", "v"),
    _array_index("by_exact", "ex", "v"),
    _array_index("by_date", "dt", "lo", "hi"),
    _array_index("by_number", "num", "lo", "hi"),
    _array_index("by_quantity", "qty", "lo", "hi"),
    _array_index("by_reference", "ref", "i", "t"),
    _array_index("by_reference_url", "ref", "u"),
    _array_index("by_uri", "uri", "v"),
    _array_index("by_composite", "cmp", "c", "lo", "hi", "v"),
    # :missing
    IndexModel([("type", ASCENDING), ("has", ASCENDING)], name="by_present"),
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

RELATIONSHIP_INDEXES = [
    # a holder's patients at an instant; one holder and one patient (the access decisions)
    IndexModel(
        [("holder", ASCENDING), ("patient", ASCENDING), ("lo", ASCENDING), ("hi", ASCENDING)],
        name="by_holder",
    ),
    # replacing the rows of one resource on each write
    IndexModel([("src", ASCENDING), ("rec", ASCENDING)], name="by_source"),
]

RESOURCE_PROJECTION = dict.fromkeys(INDEX_ARRAYS, 0)
"""The index entries are never needed to answer a read or a search."""

VERSION_PROJECTION = {"_id": 0, "until_ts": 0}


def resource_key(type_: str, id_: str) -> str:
    """``_id`` of the current document: FHIR ids cannot contain ``/``, so this is unambiguous."""
    return f"{type_}/{id_}"


def version_key(type_: str, id_: str, version: int) -> str:
    """``_id`` of a version document: writes to one version name it by ``_id`` alone, which a
    sharded ``versions`` collection can route (docs/scaling.md)."""
    return f"{type_}/{id_}/{version}"


def resource_doc(new: StoredResource, index: Index | None) -> dict[str, Any]:
    """The current-version document, search index included (empty for a tombstone)."""
    if new.deleted or index is None:
        index = Index()
    doc: dict[str, Any] = {
        "_id": resource_key(new.type, new.id),
        "type": new.type,
        "id": new.id,
        "version": new.version,
        "ts": new.ts,
        "deleted": new.deleted,
        "method": new.method,
        "content": new.content,
    }
    for field, (array, *names) in INDEX_FIELDS.items():
        keys = ("p", *names)
        doc[array] = [
            dict(zip(keys, row[: len(keys)], strict=True)) for row in getattr(index, field)
        ]
    doc[EXACT] = [{"p": p, "v": written} for p, _, written in index.strings if ":" not in p]
    doc[PRESENT] = list(index.present)
    return doc


def version_doc(new: StoredResource) -> dict[str, Any]:
    """One history entry; ``until_ts`` is set when the next version supersedes it."""
    return {
        "_id": version_key(new.type, new.id, new.version),
        "type": new.type,
        "id": new.id,
        "version": new.version,
        "ts": new.ts,
        "until_ts": None,
        "deleted": new.deleted,
        "method": new.method,
        "content": new.content,
    }


def relationship_docs(
    src: str, related: Sequence[CareRelationship], recorded: bool = False
) -> list[dict[str, Any]]:
    """The documents of ``src``'s relationships; one whose dates cannot be read is left out
    (it is not known to hold)."""
    docs: list[dict[str, Any]] = []
    for rel in related:
        try:
            lo, hi = rel.bounds()
        except Invalid:
            continue
        doc = {"holder": rel.holder, "patient": rel.patient, "lo": lo, "hi": hi}
        docs.append({**doc, "kind": rel.kind, "src": src, "rec": recorded})
    return docs


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
