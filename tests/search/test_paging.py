"""Paging links (search.html#paging): ``self``, ``first``, ``previous``, ``next`` and ``last``,
all keyset positions in signed cursors — in id order, with ``_sort`` (several keys, descending,
ties and missing values across page boundaries), in a compartment and across types.

For every case: the ``next`` pages are the expected ones; the first page has no ``previous`` and
no ``first``; ``previous`` from each page gives exactly the page before it, and its ``next`` that
page again; walking ``previous`` from the last page gives the same pages backwards; ``first``
gives the first page; ``last`` gives the last ``_count`` matches, and ``previous`` from there
pages lined up with the end.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.search.conftest import Seeded

Pages = list[list[str]]

CASES: list[tuple[str, Pages]] = [
    ("Patient?_count=2", [["p1", "p2"], ["p3", "p4"], ["p5", "p6"]]),
    ("Patient?_count=4", [["p1", "p2", "p3", "p4"], ["p5", "p6"]]),
    ("Patient?_count=6", [["p1", "p2", "p3", "p4", "p5", "p6"]]),
    ("Patient?gender=male&_count=1", [["p1"], ["p3"], ["p4"]]),
    # birthDate: p1 1950-03-15, p4 1950-03-16, p2 1962-07, p3 1985, p5 2001-12-31, p6 none
    ("Patient?_sort=birthdate&_count=2", [["p1", "p4"], ["p2", "p3"], ["p5", "p6"]]),
    ("Patient?_sort=-birthdate&_count=4", [["p5", "p3", "p2", "p4"], ["p1", "p6"]]),
    ("Patient?_sort=gender,-birthdate&_count=2", [["p5", "p2"], ["p3", "p4"], ["p1", "p6"]]),
    # value-quantity: obs2 5.35, obs1 5.4, obs8 5.4 (a tie: id decides), obs3 5.45, obs5 80,
    # then obs4, obs6, obs7, obs9 without a value
    (
        "Observation?_sort=value-quantity&_count=2",
        [["obs2", "obs1"], ["obs8", "obs3"], ["obs5", "obs4"], ["obs6", "obs7"], ["obs9"]],
    ),
    (
        "Observation?_sort=-value-quantity&_count=3",
        [["obs5", "obs3", "obs1"], ["obs8", "obs2", "obs4"], ["obs6", "obs7", "obs9"]],
    ),
    (
        "Observation?status=final&_sort=-value-quantity,_id&_count=2",
        [["obs3", "obs1"], ["obs8", "obs2"], ["obs4", "obs6"], ["obs9"]],
    ),
    ("CarePlan?_sort=-date&_count=2", [["cp3", "cp1"], ["cp2", "cp4"], ["cp5"]]),
    ("Patient/p1/Observation?_count=1", [["obs1"], ["obs2"], ["obs6"]]),
    ("Patient/p1/CarePlan?_sort=-date&_count=1", [["cp3"], ["cp1"]]),
    (
        "?_type=Organization,Practitioner,PractitionerRole&_count=2",
        [["o1", "o2"], ["o3", "pr1"], ["pr2", "prr1"]],
    ),
    (
        "?_type=Organization,Practitioner,PractitionerRole&_count=3",
        [["o1", "o2", "o3"], ["pr1", "pr2", "prr1"]],
    ),
    ("?_type=Task,Encounter,Goal&_count=2", [["enc1", "enc2"], ["t1", "t2"]]),
]


def _links(bundle: dict[str, Any]) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle.get("link", [])}


async def _page(client: httpx.AsyncClient, url: str) -> tuple[list[str], dict[str, str]]:
    resp = await client.get(url)
    assert resp.status_code == 200, (url, resp.text)
    body = resp.json()
    return [e["resource"]["id"] for e in body.get("entry", [])], _links(body)


@pytest.mark.parametrize(("url", "pages"), CASES)
async def test_next_previous_first_last(seeded: Seeded, url: str, pages: Pages) -> None:
    client = seeded.client
    forward: Pages = []
    seen: list[dict[str, str]] = []
    next_url: str | None = url
    while next_url:
        ids, links = await _page(client, next_url)
        forward.append(ids)
        seen.append(links)
        next_url = links.get("next")
    assert forward == pages
    assert "previous" not in seen[0] and "first" not in seen[0]
    for i, links in enumerate(seen[1:], 1):
        ids, before = await _page(client, links["previous"])
        assert ids == pages[i - 1], i
        assert ("previous" in before) == (i > 1)
        assert (await _page(client, before["next"]))[0] == pages[i]  # and back again
        assert (await _page(client, links["first"]))[0] == pages[0]
    assert await _walk_back(client, seen[-1].get("previous")) == [*pages[:-1]]
    if len(pages) == 1:
        assert "last" not in seen[0] and "next" not in seen[0]
        return
    # ``last`` is the page before the end: pages from there line up with the end
    flat = [i for page in pages for i in page]
    size = len(pages[0])
    tail = [flat[max(0, end - size) : end] for end in range(len(flat), 0, -size)][::-1]
    assert await _walk_back(client, seen[0]["last"]) == tail


async def _walk_back(client: httpx.AsyncClient, url: str | None) -> Pages:
    pages: Pages = []
    while url:
        ids, links = await _page(client, url)
        pages.insert(0, ids)
        url = links.get("previous")
    return pages


async def test_last_page_is_the_last_count_matches(seeded: Seeded) -> None:
    _, links = await _page(seeded.client, "Patient?_count=4")
    ids, last = await _page(seeded.client, links["last"])
    assert ids == ["p3", "p4", "p5", "p6"]  # not the forward walk's [p5, p6]
    assert "next" not in last and "last" not in last
    ids, _ = await _page(seeded.client, last["previous"])
    assert ids == ["p1", "p2"]


async def test_links_keep_the_query(seeded: Seeded) -> None:
    _, links = await _page(seeded.client, "Patient?gender=male&_count=1")
    _, second = await _page(seeded.client, links["next"])
    for relation in ("self", "first", "previous", "next", "last"):
        assert second[relation].startswith("http://testserver/fhir/Patient?gender=male&_count=1")
    assert second["first"] == "http://testserver/fhir/Patient?gender=male&_count=1"
