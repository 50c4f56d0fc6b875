"""A driving filter that matches many resources (``query.WIDE`` or more) is probed instead of
driven; both plans give the same pages, forwards and backwards."""

from __future__ import annotations

from pathlib import Path

from fhir_server.search.extract import index_resource
from fhir_server.search.terms import Filter, SearchQuery, TokenValue
from fhir_server.store.sqlite import query as compiled
from fhir_server.store.sqlite.store import SqliteStore


def _gender(code: str) -> Filter:
    return Filter("gender", "token", (TokenValue(None, code),))


async def _walk(store: SqliteStore, code: str, backward: bool = False) -> list[str]:
    query = SearchQuery("Patient", [_gender(code)], count=97)
    seen: list[str] = []
    while True:
        page = await store.search(query)
        seen += [r.id for r in page.items]
        if page.next_cursor is None:
            return seen
        query.after_id = page.next_cursor


async def _back_to_first(store: SqliteStore) -> bool:
    query = SearchQuery("Patient", [_gender("female")], count=97)
    first = await store.search(query)
    query.after_id = first.next_cursor
    second = await store.search(query)
    back = SearchQuery("Patient", [_gender("female")], count=97, backward=True)
    back.after_id = second.prev_cursor
    return [r.id for r in (await store.search(back)).items] == [r.id for r in first.items]


async def test_wide_and_narrow_plans_agree(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = SqliteStore(str(tmp_path / "fhir.db"), index_resource, "NORMAL")
    await store.open()
    try:
        async with store.transaction() as uow:
            for i in range(1500):
                gender = "male" if i % 10 == 0 else "female"
                body = {"resourceType": "Patient", "gender": gender}
                await uow.write("Patient", f"p{(i * 7919) % 1500:05d}", body, method="PUT")
        wide = await _walk(store, "female")
        narrow_only = await _walk(store, "male")
        assert len(wide) == 1350 and wide == sorted(wide)
        assert len(narrow_only) == 150 and narrow_only == sorted(narrow_only)
        assert await _back_to_first(store)
        monkeypatch.setattr(compiled, "WIDE", 10**9)  # the rows module imported it: patch both
        from fhir_server.store.sqlite import rows as module

        monkeypatch.setattr(module, "WIDE", 10**9)
        assert await _walk(store, "female") == wide
        assert await _back_to_first(store)
    finally:
        await store.close()
