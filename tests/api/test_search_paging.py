"""Paging links over HTTP on both stores while the data changes (search.html#paging): ``previous``
and ``next`` are keyset positions, so a page is anchored to the row it was reached from — a write
between two requests neither repeats nor skips a match around that anchor."""

from __future__ import annotations

from typing import Any

import httpx

from fhir_server.search import cursor
from tests.api.support import assert_outcome


async def _seed(client: httpx.AsyncClient, families: dict[str, str]) -> None:
    for id_, family in families.items():
        body = {"resourceType": "Patient", "id": id_, "name": [{"family": family}]}
        assert (await client.put(f"Patient/{id_}", json=body)).status_code in (200, 201)


async def _page(client: httpx.AsyncClient, url: str) -> tuple[list[str], dict[str, str]]:
    resp = await client.get(url)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    ids = [e["resource"]["id"] for e in body.get("entry", [])]
    return ids, {link["relation"]: link["url"] for link in body["link"]}


FAMILIES = {"a": "Berg", "b": "Dahl", "c": "Fisker", "d": "Holm", "e": "Krog", "f": "Lund"}


async def test_previous_is_anchored_to_the_page_it_was_reached_from(
    client: httpx.AsyncClient,
) -> None:
    await _seed(client, FAMILIES)
    first, first_links = await _page(client, "Patient?_sort=family&_count=2")
    assert first == ["a", "b"] and "previous" not in first_links
    second, links = await _page(client, first_links["next"])
    assert second == ["c", "d"]
    # a match sorting before everything, and one between the two pages, arrive meanwhile
    await _seed(client, {"a0": "Aagaard", "b2": "Eriksen"})
    back, back_links = await _page(client, links["previous"])
    assert back == ["b", "b2"]  # the two just before "c"
    earlier, earlier_links = await _page(client, back_links["previous"])
    assert earlier == ["a0", "a"] and "previous" not in earlier_links
    skipped, _ = await _page(client, first_links["next"])
    assert skipped == ["b2", "c"]  # the old next link: after "b", the new match is not skipped
    third, _ = await _page(client, links["next"])
    assert third == ["e", "f"]  # after "d", as before


async def test_previous_after_a_delete_and_descending_sort(client: httpx.AsyncClient) -> None:
    await _seed(client, FAMILIES)
    _, links = await _page(client, "Patient?_sort=-family&_count=2")
    second, links = await _page(client, links["next"])
    assert second == ["d", "c"]
    assert (await client.delete("Patient/e")).status_code in (200, 204)
    back, back_links = await _page(client, links["previous"])
    assert back == ["f"] and "previous" not in back_links
    last, last_links = await _page(client, links["last"])
    assert last == ["b", "a"] and "next" not in last_links
    assert (await _page(client, last_links["previous"]))[0] == ["d", "c"]


async def test_compartment_and_system_search_page_backwards(client: httpx.AsyncClient) -> None:
    await _seed(client, {"p1": "Berg"})
    for i in range(5):
        plan = {
            "resourceType": "CarePlan",
            "id": f"cp{i}",
            "status": "active",
            "intent": "plan",
            "subject": {"reference": "Patient/p1"},
        }
        assert (await client.put(f"CarePlan/cp{i}", json=plan)).status_code == 201
    _, links = await _page(client, "Patient/p1/CarePlan?_count=2")
    second, links = await _page(client, links["next"])
    assert second == ["cp2", "cp3"]
    assert "/fhir/Patient/p1/CarePlan?_count=2&_cursor=" in links["previous"]
    assert (await _page(client, links["previous"]))[0] == ["cp0", "cp1"]

    _, links = await _page(client, "?_type=CarePlan,Patient&_count=4")
    second, links = await _page(client, links["next"])
    assert second == ["cp4", "p1"] and "next" not in links
    assert (await _page(client, links["previous"]))[0] == ["cp0", "cp1", "cp2", "cp3"]
    assert (await _page(client, links["first"]))[0] == ["cp0", "cp1", "cp2", "cp3"]


async def test_paging_cursors_are_bound_and_checked(client: httpx.AsyncClient) -> None:
    await _seed(client, FAMILIES)
    _, links = await _page(client, "Patient?_count=2")
    _, links = await _page(client, links["next"])
    previous = links["previous"]
    assert_outcome(
        await client.get(previous.replace("_count=2", "_count=3")), 400, "invalid", ["_cursor"]
    )
    # well signed, but not a paging position: no direction, or "after" nothing
    for position in ("c", ">"):
        binding = previous.split("_cursor=")[1]
        forged = cursor.sign(f"{cursor.verify(binding).partition(':')[0]}:{position}")
        assert_outcome(
            await client.get(f"Patient?_count=2&_cursor={forged}"), 400, "invalid", ["_cursor"]
        )
    # a sorted search's position does not fit another sort's keys
    _, sorted_links = await _page(client, "Patient?_sort=family,birthdate&_count=2")
    token = sorted_links["next"].split("_cursor=")[1]
    position = cursor.verify(token).partition(":")[2]
    _, plain = await _page(client, "Patient?_sort=family&_count=2")
    bound = cursor.verify(plain["next"].split("_cursor=")[1]).partition(":")[0]
    mixed = cursor.sign(f"{bound}:{position}")
    assert_outcome(
        await client.get(f"Patient?_sort=family&_count=2&_cursor={mixed}"),
        400,
        "invalid",
        ["_cursor"],
    )
