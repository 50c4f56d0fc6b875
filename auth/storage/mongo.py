"""Auth records in the FHIR store's MongoDB database: one collection, ``auth_records``.

Documents are ``{_id: "<kind>:<key>", kind, key, doc, grp, expires, expires_at, used}``; a TTL
index on ``expires_at`` lets MongoDB delete expired records by itself (readers ignore them before
that). Insert-if-absent and claim are single conditional writes, atomic on the server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from auth.storage import AuthStore, Claim, Doc, Record, now

COLLECTION = "auth_records"
_INDEXES = [
    IndexModel([("kind", ASCENDING), ("grp", ASCENDING)], name="kind_grp"),
    IndexModel([("expires_at", ASCENDING)], name="ttl", expireAfterSeconds=0),
]


def _live(at: float) -> dict[str, Any]:
    return {"$or": [{"expires": None}, {"expires": {"$gt": at}}]}


def _document(kind: str, key: str, doc: Doc, expires: float | None, group: str | None) -> Doc:
    return {
        "_id": f"{kind}:{key}",
        "kind": kind,
        "key": key,
        "doc": doc,
        "grp": group,
        "expires": expires,
        "expires_at": datetime.fromtimestamp(expires, UTC) if expires is not None else None,
        "used": False,
    }


def _record(d: Doc) -> Record:
    return Record(d["key"], d["doc"], d.get("expires"), bool(d.get("used")), d.get("grp"))


class MongoAuthStore(AuthStore):
    def __init__(self, database: Any) -> None:
        """``database``: the FHIR store's database object (its client is closed by that store)."""
        self.records = database[COLLECTION]

    async def open(self) -> None:
        await self.records.create_indexes(_INDEXES)

    async def close(self) -> None:
        return None

    async def get(self, kind: str, key: str) -> Record | None:
        found = await self.records.find_one({"_id": f"{kind}:{key}", **_live(now())})
        return _record(found) if found else None

    async def put(
        self,
        kind: str,
        key: str,
        doc: Doc,
        *,
        expires: float | None = None,
        group: str | None = None,
    ) -> None:
        document = _document(kind, key, doc, expires, group)
        await self.records.replace_one({"_id": document["_id"]}, document, upsert=True)

    async def add(
        self,
        kind: str,
        key: str,
        doc: Doc,
        *,
        expires: float | None = None,
        group: str | None = None,
    ) -> bool:
        document = _document(kind, key, doc, expires, group)
        try:
            await self.records.insert_one(document)
            return True
        except DuplicateKeyError:
            expired = {"_id": document["_id"], "expires": {"$type": "number", "$lte": now()}}
            replaced = await self.records.replace_one(expired, document)
            return bool(replaced.matched_count)

    async def claim(self, kind: str, key: str) -> tuple[Record, str] | None:
        at = now()
        where = {"_id": f"{kind}:{key}", "used": False, **_live(at)}
        marked = await self.records.update_one(where, {"$set": {"used": True}})
        found = await self.records.find_one({"_id": f"{kind}:{key}", **_live(at)})
        if found is None:
            return None
        return _record(found), Claim.FIRST if marked.modified_count == 1 else Claim.SPENT

    async def delete(self, kind: str, key: str) -> bool:
        deleted = await self.records.delete_many({"_id": f"{kind}:{key}"})
        return bool(deleted.deleted_count)

    async def all(self, kind: str) -> list[Record]:
        cursor = self.records.find({"kind": kind, **_live(now())}).sort("key", ASCENDING)
        return [_record(d) for d in await cursor.to_list(None)]

    async def in_group(self, kind: str, group: str) -> list[Record]:
        cursor = self.records.find({"kind": kind, "grp": group, **_live(now())})
        return [_record(d) for d in await cursor.to_list(None)]

    async def purge(self) -> int:
        deleted = await self.records.delete_many({"expires": {"$type": "number", "$lte": now()}})
        return int(deleted.deleted_count)
