"""Files written by older schema versions open with the current server: the schema is upgraded
in place and the search index rebuilt. Version 1: index keyed by type and id, no ``rk``;
version 2: no ``idx_composite``."""

from __future__ import annotations

import sqlite3
from hashlib import blake2b
from pathlib import Path
from typing import Any

import orjson
import pytest

from fhir_server.search.extract import index_resource
from fhir_server.search.parse import parse_search
from fhir_server.search.registry import SPECIFICATION
from fhir_server.search.terms import ANY, Filter, ReferenceValue, SearchQuery, TokenValue
from fhir_server.store.base import CHANGES
from fhir_server.store.sqlite.schema import SCHEMA_VERSION, param_key
from fhir_server.store.sqlite.store import SqliteStore

V1 = """
CREATE TABLE version (seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,
    id TEXT NOT NULL, version INTEGER NOT NULL, ts INTEGER NOT NULL, until_ts INTEGER,
    method TEXT NOT NULL, deleted INTEGER NOT NULL, content BLOB);
CREATE UNIQUE INDEX version_by_resource ON version (type, id, version);
CREATE TABLE resource (type TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
    version INTEGER NOT NULL, deleted INTEGER NOT NULL, PRIMARY KEY (type, id)) WITHOUT ROWID;
CREATE TABLE idx_token (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, system TEXT,
    code TEXT NOT NULL);
CREATE TABLE idx_present (type TEXT, id TEXT, param TEXT);
"""


def _v1_file(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(V1)
    for seq, (id_, version, deleted) in enumerate([("a", 1, 0), ("a", 2, 0), ("b", 1, 0)], 1):
        body = {
            "resourceType": "Patient",
            "id": id_,
            "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": f"{id_}-{version}"}],
        }
        conn.execute(
            "INSERT INTO version VALUES (?, 'Patient', ?, ?, ?, NULL, 'PUT', ?, ?)",
            (seq, id_, version, seq, deleted, orjson.dumps(body)),
        )
    conn.executemany(
        "INSERT INTO resource VALUES ('Patient', ?, ?, ?, 0)", [("a", 2, 2), ("b", 3, 1)]
    )
    conn.execute("INSERT INTO idx_token VALUES ('Patient', 'a', 'identifier', NULL, 'stale')")
    conn.commit()
    conn.close()


async def test_version_1_file_is_upgraded_and_reindexed(tmp_path: Path) -> None:
    path = tmp_path / "fhir.db"
    _v1_file(path)
    store = SqliteStore(str(path), index_resource)
    await store.open()
    try:
        for code, ids in (("a-2", ["a"]), ("b-1", ["b"]), ("a-1", []), ("stale", [])):
            value = TokenValue("urn:oid:1.2.208.176.1.2", code)
            query = SearchQuery("Patient", [Filter("identifier", "token", (value,))])
            assert [r.id for r in (await store.search(query)).items] == ids, code
        async with store.transaction() as uow:  # new resources get keys after the old ones
            await uow.write("Patient", "c", {"resourceType": "Patient"}, method="PUT")
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT id, rk FROM resource ORDER BY rk").fetchall() == [
        ("a", 1),
        ("b", 3),
        ("c", 4),
    ]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "idx_exact" not in tables  # version 1's idx_present is replaced by schema 6's
    assert [c[1] for c in conn.execute("PRAGMA table_info(idx_present)")] == ["rk", "p"]
    conn.close()


BP = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
    "component": [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm"},
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
            "valueQuantity": {"value": 80, "system": "http://unitsofmeasure.org", "code": "mm"},
        },
    ],
}


def _systolic_above(value: float) -> SearchQuery:
    return parse_search(
        "Observation",
        [("component-code-value-quantity", f"http://loinc.org|8480-6$gt{value}")],
        params=SPECIFICATION,
        default_count=10,
        max_count=10,
    )


async def test_version_2_file_gets_the_composite_index(tmp_path: Path) -> None:
    """Version 2 had no ``idx_composite``: opening such a file adds it and fills it from the
    stored resources, leaving the other index rows as they were."""
    path = tmp_path / "fhir.db"
    store = SqliteStore(str(path), index_resource)
    await store.open()
    async with store.transaction() as uow:
        await uow.write("Observation", "bp", dict(BP), method="PUT")
    await store.close()
    conn = sqlite3.connect(path)  # what a version-2 server left behind
    tokens = conn.execute("SELECT * FROM idx_token ORDER BY rk, p, code").fetchall()
    conn.execute("DROP TABLE idx_composite")
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()

    store = SqliteStore(str(path), index_resource)
    await store.open()
    try:
        assert [r.id for r in (await store.search(_systolic_above(100))).items] == ["bp"]
        assert (await store.search(_systolic_above(120))).items == []
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
    assert conn.execute("SELECT * FROM idx_token ORDER BY rk, p, code").fetchall() == tokens
    assert conn.execute("SELECT count(*) FROM idx_composite").fetchone()[0] == 4  # 2 params
    conn.close()


async def test_a_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fhir.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    store = SqliteStore(str(path), index_resource)
    with pytest.raises(RuntimeError, match="schema"):
        await store.open()
    await store.close()


def _v3_key(type_: str, name: str) -> int:
    """Schema 3's key of any parameter: a 31-bit hash of ``Type.name``."""
    digest = blake2b(f"{type_}.{name}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def _sp(code: str, base: str, kind: str, expression: str) -> dict[str, Any]:
    return {
        "resourceType": "SearchParameter",
        "url": f"http://example.org/fhir/SearchParameter/{code}",
        "status": "active",
        "code": code,
        "base": [base],
        "type": kind,
        "expression": expression,
    }


async def test_version_3_custom_keys_are_moved_out_of_the_builtin_range(tmp_path: Path) -> None:
    """Schema 3 keyed custom parameters like the specification's, so a code chosen to collide
    (``ze1c84c5`` ~ ``CarePlan.patient``) left rows that read as another parameter's. Opening
    such a file moves custom parameters' rows to their own keys and rebuilds the index of a
    type whose custom rows collided, so the false rows are gone."""
    path = tmp_path / "fhir.db"
    store = SqliteStore(str(path), index_resource)
    await store.open()
    async with store.transaction() as uow:
        for pid in ("a", "b"):
            await uow.write("Patient", pid, {"resourceType": "Patient"}, method="PUT")
            plan = {
                "resourceType": "CarePlan",
                "status": "active",
                "intent": "plan",
                "subject": {"reference": f"Patient/{pid}"},
            }
            await uow.write("CarePlan", f"{pid}-1", plan, method="PUT")
        await uow.write(
            "SearchParameter",
            "evil",
            _sp("ze1c84c5", "CarePlan", "reference", "'Patient/a'"),
            method="PUT",
        )
        await uow.write(
            "SearchParameter",
            "colour",
            _sp("colour", "Patient", "token", "Patient.extension.value"),
            method="PUT",
        )
    await store.close()
    conn = sqlite3.connect(path)  # the rows a version-3 server wrote for the two parameters
    rks = dict(conn.execute("SELECT type || '/' || id, rk FROM resource").fetchall())
    for plan in ("CarePlan/a-1", "CarePlan/b-1"):
        conn.execute(
            "INSERT OR IGNORE INTO idx_reference VALUES (?, ?, 'a', 'Patient', '')",
            (rks[plan], _v3_key("CarePlan", "ze1c84c5")),
        )
    conn.execute(
        "INSERT INTO idx_token VALUES (?, ?, 'blue', '')",
        (rks["Patient/a"], _v3_key("Patient", "colour")),
    )
    conn.execute("PRAGMA user_version=3")
    conn.commit()
    conn.close()
    assert _v3_key("CarePlan", "ze1c84c5") == _v3_key("CarePlan", "patient")

    store = SqliteStore(str(path), index_resource)
    await store.open()
    try:
        for pid in ("a", "b"):
            ref = ReferenceValue(type="Patient", id=pid)
            query = SearchQuery("CarePlan", [Filter("patient", "reference", (ref,))])
            assert [r.id for r in (await store.search(query)).items] == [f"{pid}-1"]
        blue = SearchQuery("Patient", [Filter("colour", "token", (TokenValue(ANY, "blue"),))])
        assert [r.id for r in (await store.search(blue)).items] == ["a"]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


async def test_version_5_file_gets_the_present_rows_of_its_index(tmp_path: Path) -> None:
    """Version 5 had no ``idx_present``: opening such a file fills it from the index rows it
    has — the rows a write makes (a token's ``:text`` alone, a reference's ``:identifier``
    alone, a custom parameter's), so ``:missing`` answers as before without a reindex."""
    path = tmp_path / "fhir.db"
    store = SqliteStore(str(path), index_resource)
    await store.open()
    async with store.transaction() as uow:
        await uow.write(
            "SearchParameter",
            "colour",
            _sp("colour", "Patient", "token", "Patient.extension.value"),
            method="PUT",
        )
        await uow.write("Patient", "a", {"resourceType": "Patient"}, method="PUT")
        await uow.write("Patient", "b", {"resourceType": "Patient", "gender": "male"}, method="PUT")
        statement = {
            "resourceType": "MedicationStatement",
            "status": "active",
            "medicationCodeableConcept": {"text": "paracetamol"},
            "subject": {"identifier": {"system": "urn:x", "value": "1"}},
        }
        await uow.write("MedicationStatement", "m", statement, method="PUT")
    await store.close()
    conn = sqlite3.connect(path)
    rks = dict(conn.execute("SELECT type || '/' || id, rk FROM resource").fetchall())
    colour = param_key("Patient", "colour")
    conn.execute("INSERT INTO idx_token VALUES (?, ?, 'blue', '')", (rks["Patient/a"], colour))
    conn.execute("INSERT INTO idx_present VALUES (?, ?)", (rks["Patient/a"], colour))
    present = conn.execute("SELECT * FROM idx_present ORDER BY rk, p").fetchall()
    conn.execute("DROP TABLE idx_present")  # what a version-5 server left behind
    conn.execute("PRAGMA user_version=5")
    conn.commit()
    conn.close()

    store = SqliteStore(str(path), index_resource)
    await store.open()
    try:
        for type_, param, kind, missing, ids in (
            ("Patient", "gender", "token", True, ["a"]),
            ("Patient", "colour", "token", False, ["a"]),
            ("MedicationStatement", "code", "token", False, ["m"]),
            ("MedicationStatement", "subject", "reference", True, []),
        ):
            only = Filter(param, kind, (), modifier="missing", missing=missing)
            query = SearchQuery(type_, [only])
            assert [r.id for r in (await store.search(query)).items] == ids, param
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT * FROM idx_present ORDER BY rk, p").fetchall() == present
    conn.close()


async def test_version_6_file_gets_the_deferred_journal(tmp_path: Path) -> None:
    """Version 6 had no ``deferred`` table: opening such a file adds it, keeping the data; a
    file of version 7 is refused by a server that would not drain it (the newer-file check)."""
    path = tmp_path / "fhir.db"
    store = SqliteStore(str(path), index_resource)
    await store.open()
    async with store.transaction() as uow:
        await uow.write("Patient", "a", {"resourceType": "Patient"}, method="PUT")
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE deferred")
    conn.execute("PRAGMA user_version=6")
    conn.commit()
    conn.close()
    store = SqliteStore(str(path), index_resource)
    await store.open()
    try:
        async with store.transaction() as uow:
            await uow.append_deferred("Patient", "b", {"resourceType": "Patient"})
        assert [r.id for r in (await store.search(SearchQuery("Patient"))).items] == ["a", "b"]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
    conn.close()


async def test_version_7_file_gets_the_outbox(tmp_path: Path) -> None:
    """Version 7 had no ``outbox`` tables: opening such a file adds them, keeping the data, and
    the changes of watched types are journalled from then on."""
    path = tmp_path / "fhir.db"
    store = SqliteStore(str(path), index_resource)
    await store.open()
    async with store.transaction() as uow:
        await uow.write("Patient", "a", {"resourceType": "Patient"}, method="PUT")
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE outbox")
    conn.execute("DROP TABLE outbox_queue")
    conn.execute("PRAGMA user_version=7")
    conn.commit()
    conn.close()
    store = SqliteStore(str(path), index_resource)
    store.journal_changes({"Patient"})
    await store.open()
    try:
        async with store.transaction() as uow:
            await uow.write("Patient", "a", {"resourceType": "Patient"}, method="PUT")
        assert await store.outbox_heads() == {CHANGES: (1, 0)}
        async with store.transaction() as uow:
            [(n, item)] = await uow.outbox_items(CHANGES, 0, 10)
        assert (n, item["id"], item["version"], item["before"]) == (1, "a", 2, 1)
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
    conn.close()
