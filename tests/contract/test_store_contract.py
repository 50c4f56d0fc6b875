"""The storage contract: what every backend must do identically."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from fhir_server.search.terms import ANY, Filter, SearchQuery, TokenValue
from fhir_server.store.base import HistoryQuery, Page, Store, VersionConflict, in_transaction
from fhir_server.stored import now_us

CPR = "urn:oid:1.2.208.176.1.2"


def patient(family: str, cpr: str | None = None) -> dict:
    res: dict = {"resourceType": "Patient", "name": [{"family": family}]}
    if cpr:
        res["identifier"] = [{"system": CPR, "value": cpr}]
    return res


async def put(store: Store, type_: str, id_: str, res: dict, **kw):  # type: ignore[no-untyped-def]
    async with store.transaction() as uow:
        return await uow.write(type_, id_, res, method=kw.pop("method", "PUT"), **kw)


async def test_write_then_read_serves_stamped_bytes(store: Store) -> None:
    stored, created = await put(store, "Patient", "p1", patient("Hansen"))
    assert created and stored.version == 1
    got = await store.read("Patient", "p1")
    assert got is not None and got.content == stored.content
    body = orjson.loads(got.content)
    assert body["id"] == "p1"
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"] == stored.last_updated
    assert await store.read("Patient", "nope") is None
    assert await store.read("Practitioner", "p1") is None


async def test_updates_make_versions_and_vread_finds_each(store: Store) -> None:
    await put(store, "Patient", "p1", patient("A"))
    second, created = await put(store, "Patient", "p1", patient("B"))
    assert not created and second.version == 2
    v1 = await store.vread("Patient", "p1", 1)
    v2 = await store.vread("Patient", "p1", 2)
    assert v1 and orjson.loads(v1.content)["name"][0]["family"] == "A"
    assert v2 and orjson.loads(v2.content)["name"][0]["family"] == "B"
    assert await store.vread("Patient", "p1", 3) is None
    current = await store.read("Patient", "p1")
    assert current and current.version == 2 and current.ts > v1.ts


async def test_delete_writes_a_tombstone_version(store: Store) -> None:
    await put(store, "Patient", "p1", patient("A"))
    async with store.transaction() as uow:
        tomb = await uow.delete("Patient", "p1")
    assert tomb and tomb.version == 2 and tomb.deleted
    current = await store.read("Patient", "p1")
    assert current and current.deleted and current.content is None
    assert (await store.vread("Patient", "p1", 1)) is not None
    async with store.transaction() as uow:
        assert await uow.delete("Patient", "p1") is None  # already deleted: no new version
        assert await uow.delete("Patient", "never") is None
    revived, created = await put(store, "Patient", "p1", patient("C"))
    assert created and revived.version == 3


async def test_if_match_and_must_not_exist_are_checked_in_the_store(store: Store) -> None:
    await put(store, "Patient", "p1", patient("A"))
    with pytest.raises(VersionConflict) as err:
        await put(store, "Patient", "p1", patient("B"), if_match=7)
    assert err.value.current is not None and err.value.current.version == 1
    with pytest.raises(VersionConflict):
        await put(store, "Patient", "p1", patient("B"), must_not_exist=True)
    with pytest.raises(VersionConflict):
        await put(store, "Patient", "absent", patient("B"), if_match=1)
    ok, _ = await put(store, "Patient", "p1", patient("B"), if_match=1)
    assert ok.version == 2


async def test_a_minted_id_that_exists_after_all_is_refused(store: Store) -> None:
    """A create's id is made up by the server and not looked up first; should it exist, the
    store refuses the write rather than overwrite (and nothing of it stays)."""
    await put(store, "Patient", "taken", patient("A"))
    with pytest.raises(VersionConflict):
        await put(store, "Patient", "taken", patient("B"), method="POST", minted=True)
    current = await store.read("Patient", "taken")
    assert current is not None and current.version == 1
    assert orjson.loads(current.content or b"{}")["name"] == [{"family": "A"}]
    made, created = await put(store, "Patient", "fresh", patient("C"), method="POST", minted=True)
    assert created and made.version == 1


async def test_failed_unit_of_work_leaves_no_trace(store: Store) -> None:
    await put(store, "Patient", "keep", patient("Keep"))
    with pytest.raises(RuntimeError):
        async with store.transaction() as uow:
            await uow.write("Patient", "new", patient("New", "0101011234"), method="POST")
            await uow.write("Patient", "keep", patient("Changed"), method="PUT")
            await uow.delete("Patient", "keep")
            raise RuntimeError("boom")
    assert await store.read("Patient", "new") is None
    kept = await store.read("Patient", "keep")
    assert kept and kept.version == 1 and not kept.deleted
    page = await store.search(SearchQuery("Patient", [_ident("0101011234")]))
    assert page.items == []
    history = await store.history(HistoryQuery())
    assert [(h.id, h.version) for h in history.items] == [("keep", 1)]


async def test_unit_of_work_sees_its_own_writes(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.write("Patient", "a", patient("A", "0101011111"), method="POST")
        assert (await uow.read("Patient", "a")) is not None
        page = await uow.search(SearchQuery("Patient", [_ident("0101011111")]))
        assert [r.id for r in page.items] == ["a"]


def _ident(code: str, system: str | None = CPR) -> Filter:
    return Filter("identifier", "token", (TokenValue(system, code),))


async def test_search_by_token_and_id(store: Store) -> None:
    await put(store, "Patient", "a", patient("A", "0101011111"))
    await put(store, "Patient", "b", patient("B", "0101012222"))
    await put(store, "Patient", "c", patient("C"))
    await put(store, "Practitioner", "a", {"resourceType": "Practitioner"})

    async def ids(*filters: Filter) -> list[str]:
        return [r.id for r in (await store.search(SearchQuery("Patient", list(filters)))).items]

    assert await ids(_ident("0101011111")) == ["a"]
    assert await ids(_ident("0101011111", ANY)) == ["a"]
    assert await ids(_ident("0101011111", "urn:other")) == []
    assert await ids(_ident("0101011111", None)) == []
    assert await ids(Filter("identifier", "token", (TokenValue(CPR, None),))) == ["a", "b"]
    assert await ids(
        Filter("identifier", "token", (TokenValue(ANY, "0101012222"), TokenValue(ANY, "x")))
    ) == ["b"]
    assert await ids(Filter("_id", "id", (TokenValue(ANY, "c"), TokenValue(ANY, "a")))) == [
        "a",
        "c",
    ]
    assert await ids() == ["a", "b", "c"]
    # the index follows the current version: an update replaces entries, a delete removes them
    await put(store, "Patient", "a", patient("A", "0101019999"))
    assert await ids(_ident("0101011111")) == []
    async with store.transaction() as uow:
        await uow.delete("Patient", "b")
    assert await ids(_ident("0101012222")) == []
    assert await ids() == ["a", "c"]


async def test_search_pages_by_keyset(store: Store) -> None:
    for i in range(5):
        await put(store, "Patient", f"p{i}", patient(str(i)))
    first = await store.search(SearchQuery("Patient", count=2))
    assert [r.id for r in first.items] == ["p0", "p1"] and first.next_cursor
    second = await store.search(SearchQuery("Patient", count=2, after_id=first.next_cursor))
    assert [r.id for r in second.items] == ["p2", "p3"]
    third = await store.search(SearchQuery("Patient", count=2, after_id=second.next_cursor))
    assert [r.id for r in third.items] == ["p4"] and third.next_cursor is None
    assert first.prev_cursor is None and second.prev_cursor and third.prev_cursor


async def test_search_pages_backwards_by_keyset(store: Store) -> None:
    for i in range(5):
        await put(store, "Patient", f"p{i}", patient(str(i)))

    async def before(position: str | None, count: int = 2) -> Page:
        return await store.search(
            SearchQuery("Patient", count=count, after_id=position, backward=True)
        )

    last = await before(None)  # the last page: before the end
    assert [r.id for r in last.items] == ["p3", "p4"]
    assert last.next_cursor is None and last.prev_cursor
    middle = await before(last.prev_cursor)
    assert [r.id for r in middle.items] == ["p1", "p2"]  # still in id order
    assert middle.next_cursor and middle.prev_cursor
    start = await before(middle.prev_cursor)
    assert [r.id for r in start.items] == ["p0"] and start.prev_cursor is None
    forward = await store.search(SearchQuery("Patient", count=2, after_id=start.next_cursor))
    assert [r.id for r in forward.items] == ["p1", "p2"]
    assert (await before("p0")).items == []


async def test_history_levels_newest_first_with_paging(store: Store) -> None:
    await put(store, "Patient", "a", patient("A1"))
    await put(store, "Organization", "o", {"resourceType": "Organization"})
    await put(store, "Patient", "a", patient("A2"))
    await put(store, "Patient", "b", patient("B1"))
    async with store.transaction() as uow:
        await uow.delete("Patient", "a")

    def keys(page):  # type: ignore[no-untyped-def]
        return [(r.type, r.id, r.version) for r in page.items]

    everything = await store.history(HistoryQuery())
    assert keys(everything) == [
        ("Patient", "a", 3),
        ("Patient", "b", 1),
        ("Patient", "a", 2),
        ("Organization", "o", 1),
        ("Patient", "a", 1),
    ]
    assert everything.items[0].deleted and everything.items[0].method == "DELETE"
    assert keys(await store.history(HistoryQuery(type="Patient", id="a"))) == [
        ("Patient", "a", 3),
        ("Patient", "a", 2),
        ("Patient", "a", 1),
    ]
    assert len((await store.history(HistoryQuery(type="Patient"))).items) == 4
    page1 = await store.history(HistoryQuery(count=2))
    assert keys(page1) == keys(everything)[:2] and page1.next_cursor
    page2 = await store.history(HistoryQuery(count=2, cursor=page1.next_cursor))
    assert keys(page2) == keys(everything)[2:4]
    page3 = await store.history(HistoryQuery(count=2, cursor=page2.next_cursor))
    assert keys(page3) == keys(everything)[4:] and page3.next_cursor is None


async def test_history_since_and_at(store: Store) -> None:
    v1, _ = await put(store, "Patient", "a", patient("A1"))
    mid = now_us()
    await put(store, "Patient", "a", patient("A2"))
    after = now_us()
    v3, _ = await put(store, "Patient", "a", patient("A3"))

    async def versions(**kw) -> list[int]:  # type: ignore[no-untyped-def]
        page = await store.history(HistoryQuery(type="Patient", id="a", **kw))
        return [r.version for r in page.items]

    assert await versions(since=mid) == [3, 2]
    assert await versions(since=v3.ts) == [3]
    assert await versions(at=(mid, mid + 1)) == [1]  # v1 was current at `mid`
    assert await versions(at=(after, after + 1)) == [2]
    assert await versions(at=(v1.ts, v3.ts)) == [2, 1]
    assert await versions(at=(0, v1.ts)) == []


async def test_concurrent_if_match_updates_lose_nothing(store: Store) -> None:
    """16 writers race on one resource with If-Match; each success is a distinct version."""
    await put(store, "Patient", "hot", {"resourceType": "Patient", "name": [{"given": []}]})

    async def writer(n: int) -> int:
        while True:
            current = await store.read("Patient", "hot")
            assert current and current.content
            body = orjson.loads(current.content)
            body["name"][0]["given"].append(f"w{n}")

            async def work(uow, body=body, current=current):  # type: ignore[no-untyped-def]
                return await uow.write(
                    "Patient", "hot", body, method="PUT", if_match=current.version
                )

            try:
                stored, _ = await in_transaction(store, work)
                return stored.version
            except VersionConflict:
                await asyncio.sleep(0)

    versions = await asyncio.gather(*(writer(n) for n in range(16)))
    assert sorted(versions) == list(range(2, 18))
    final = await store.read("Patient", "hot")
    assert final and final.version == 17
    given = orjson.loads(final.content or b"{}")["name"][0]["given"]
    assert sorted(given) == sorted(f"w{n}" for n in range(16))


async def test_search_filters_are_anded_and_their_values_ored(store: Store) -> None:
    await put(store, "Patient", "a", patient("A", "0101011111"))
    await put(store, "Patient", "b", patient("B", "0101012222"))
    both = Filter("_id", "id", (TokenValue(ANY, "a"), TokenValue(ANY, "b")))
    either = Filter(
        "identifier", "token", (TokenValue(CPR, "0101011111"), TokenValue(CPR, "0101012222"))
    )

    async def ids(*filters: Filter) -> list[str]:
        return [r.id for r in (await store.search(SearchQuery("Patient", list(filters)))).items]

    assert await ids(both, either) == ["a", "b"]
    assert await ids(both, _ident("0101011111")) == ["a"]
    assert await ids(_ident("0101011111"), _ident("0101012222")) == []


async def test_type_and_instance_history_walk_by_cursor(store: Store) -> None:
    for i in range(3):
        await put(store, "Patient", "a", patient(f"A{i}"))
        await put(store, "Patient", "b", patient(f"B{i}"))
        await put(store, "Organization", "o", {"resourceType": "Organization"})

    async def walk(**kw) -> list[tuple[str, str, int]]:  # type: ignore[no-untyped-def]
        out: list[tuple[str, str, int]] = []
        cursor = None
        while True:
            page = await store.history(HistoryQuery(count=2, cursor=cursor, **kw))
            out += [(r.type, r.id, r.version) for r in page.items]
            if not (cursor := page.next_cursor):
                return out

    assert await walk(type="Patient") == [
        ("Patient", id_, v) for v in (3, 2, 1) for id_ in ("b", "a")
    ]
    assert await walk(type="Patient", id="a") == [("Patient", "a", v) for v in (3, 2, 1)]
    assert len(await walk()) == 9


async def test_concurrent_creates_of_one_id_make_one_resource(store: Store) -> None:
    async def create(n: int) -> int | None:
        async def work(uow):  # type: ignore[no-untyped-def]
            return await uow.write(
                "Patient", "once", patient(f"N{n}"), method="PUT", must_not_exist=True
            )

        try:
            stored, _ = await in_transaction(store, work)
            return int(stored.version)
        except VersionConflict:
            return None

    results = await asyncio.gather(*(create(n) for n in range(8)))
    assert results.count(1) == 1 and results.count(None) == 7
    history = await store.history(HistoryQuery(type="Patient", id="once"))
    assert [r.version for r in history.items] == [1]


async def test_cancelled_unit_of_work_rolls_back_and_frees_the_store(store: Store) -> None:
    started = asyncio.Event()

    async def stuck() -> None:
        async with store.transaction() as uow:
            await uow.write("Patient", "ghost", patient("G"), method="PUT")
            started.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(stuck())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.read("Patient", "ghost") is None
    stored, _ = await asyncio.wait_for(put(store, "Patient", "after", patient("A")), 5)
    assert stored.version == 1


async def test_conditional_create_pattern_is_race_free(store: Store) -> None:
    """Search-then-create under a lock: racing writers create exactly one resource."""

    async def conditional_create(n: int) -> None:
        async def work(uow):  # type: ignore[no-untyped-def]
            await uow.lock("Patient?identifier=0101014444")
            found = await uow.search(SearchQuery("Patient", [_ident("0101014444")]))
            if not found.items:
                await uow.write("Patient", f"c{n}", patient("C", "0101014444"), method="POST")

        await in_transaction(store, work)

    await asyncio.gather(*(conditional_create(n) for n in range(8)))
    page = await store.search(SearchQuery("Patient", [_ident("0101014444")]))
    assert len(page.items) == 1


async def test_reindex_rebuilds_index_entries(store: Store) -> None:
    from fhir_server.search.terms import Index

    for i in range(3):
        await put(store, "Patient", f"r{i}", patient("R", f"010101000{i}"))
    async with store.transaction() as uow:  # as if written by a server that indexed nothing
        for i in range(3):
            current = await uow.read("Patient", f"r{i}")
            assert current is not None
            await uow.reindex(current, Index())
    assert (await store.search(SearchQuery("Patient", [_ident("0101010001")]))).items == []
    done = [n async for n in store.reindex_type("Patient", batch=2)]
    assert done == [2, 1]
    found = await store.search(SearchQuery("Patient", [_ident("0101010001")]))
    assert [r.id for r in found.items] == ["r1"]


async def test_reindex_of_a_superseded_version_changes_nothing(store: Store) -> None:
    """A background reindex reads a batch, then writes its index: a resource updated in between
    keeps the index its update wrote."""
    from fhir_server.search.terms import Index

    await put(store, "Patient", "s1", patient("Old", "0101010009"))
    async with store.transaction() as uow:
        old = await uow.read("Patient", "s1")
    assert old is not None
    await put(store, "Patient", "s1", patient("New", "0101010008"))
    async with store.transaction() as uow:
        await uow.reindex(old, Index())
    found = await store.search(SearchQuery("Patient", [_ident("0101010008")]))
    assert [r.id for r in found.items] == ["s1"]


def _family(name: str) -> Filter:
    from fhir_server.search.terms import StringValue

    return Filter("family", "string", (StringValue(name.lower()),))


async def _ids(store: Store, *filters: Filter) -> list[str]:
    return [r.id for r in (await store.search(SearchQuery("Patient", list(filters)))).items]


async def test_updates_and_deletes_keep_the_index_exact(store: Store) -> None:
    """Only the current version is indexed: values an update removes stop matching, values it
    keeps still match, a tombstone matches nothing and a re-create matches again."""
    await put(store, "Patient", "u1", patient("Holm", "0101010001"))
    await put(store, "Patient", "u1", patient("Holm", "0101010002"))
    assert await _ids(store, _ident("0101010001")) == []
    assert await _ids(store, _ident("0101010002")) == ["u1"]
    assert await _ids(store, _family("Holm")) == ["u1"]
    async with store.transaction() as uow:
        await uow.delete("Patient", "u1")
    assert await _ids(store, _ident("0101010002")) == []
    assert await _ids(store, _family("Holm")) == []
    await put(store, "Patient", "u1", patient("Berg", "0101010002"))
    assert await _ids(store, _ident("0101010002")) == ["u1"]
    assert await _ids(store, _family("Holm")) == []
    assert await _ids(store, _family("Berg")) == ["u1"]


async def test_writes_of_one_resource_within_one_unit_of_work(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.write("Patient", "w1", patient("Lund", "0101010003"), method="PUT")
        await uow.write("Patient", "w1", patient("Lund", "0101010004"), method="PUT")
        await uow.write("Patient", "w2", patient("Lund", "0101010003"), method="PUT")
    assert await _ids(store, _ident("0101010003")) == ["w2"]
    assert await _ids(store, _ident("0101010004")) == ["w1"]
    assert await _ids(store, _family("Lund")) == ["w1", "w2"]
