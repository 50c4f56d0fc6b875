"""`fhir-server reindex` rebuilds the search index from the stored resources."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fhir_server.cli import main
from fhir_server.search.extract import index_resource
from fhir_server.search.parse import parse_search
from fhir_server.search.registry import SPECIFICATION
from fhir_server.search.terms import Index
from fhir_server.store.sqlite.store import SqliteStore


async def _seed_without_index(db: Path) -> None:
    """Resources written with an indexer that knew nothing, as by an older server version."""
    store = SqliteStore(str(db), lambda type_, resource: Index())
    await store.open()
    async with store.transaction() as uow:
        for i in range(7):
            await uow.write(
                "Patient", f"p{i}", {"resourceType": "Patient", "gender": "female"}, method="PUT"
            )
    await store.close()


async def _found(db: Path) -> list[str]:
    store = SqliteStore(str(db), index_resource)
    await store.open()
    try:
        pairs = [("gender", "female")]
        query = parse_search("Patient", pairs, params=SPECIFICATION, default_count=50, max_count=50)
        return [r.id for r in (await store.search(query)).items]
    finally:
        await store.close()


def test_reindex_makes_old_resources_searchable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fhir.db"
    monkeypatch.setenv("FHIR_STORE_URL", f"sqlite:///{db}")
    asyncio.run(_seed_without_index(db))
    assert asyncio.run(_found(db)) == []
    assert main(["reindex", "--no-progress"]) == 0
    assert "reindexed 7 resources" in capsys.readouterr().out
    assert asyncio.run(_found(db)) == [f"p{i}" for i in range(7)]
