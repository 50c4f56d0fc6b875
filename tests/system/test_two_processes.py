"""Two server processes on one SQLite file, as with ``WORKERS=2``: requests alternate between two
real ``fhir-server serve`` processes (each on its own port, so both certainly take part), and
racing writers in different processes behave as racing writers in one.

- 24 racing conditional creates (four different criteria texts, all matching the one Patient
  they want) create it exactly once;
- 32 writers updating one Patient with ``If-Match`` lose no update: the final version is one
  more than the number of 200s, and every writer's change is in it;
- a SearchParameter stored through one process becomes a search parameter of the other too
  (each process rechecks the store's SearchParameters at most once a second).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from tests.system.servers import Launcher, Server

CPR = "urn:oid:1.2.208.176.1.2"
MARKS = "urn:test:writer"
RACERS = 24
WRITERS = 32


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    """Two server processes on one file, shared by this module's tests (they touch different
    resources): a start costs seconds."""
    with Launcher(tmp_path_factory.mktemp("two") / "fhir.db") as launcher:
        yield [launcher.start(), launcher.start()]


@pytest.fixture
async def clients(servers: list[Server]) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One HTTP client per server process."""
    async with (
        httpx.AsyncClient(base_url=servers[0].base, timeout=30) as a,
        httpx.AsyncClient(base_url=servers[1].base, timeout=30) as b,
    ):
        yield [a, b]


async def test_racing_conditional_creates_in_two_processes_make_one_resource(
    clients: list[httpx.AsyncClient],
) -> None:
    number = "0101016666"
    criteria = [
        f"identifier={CPR}|{number}",
        f"identifier={CPR}|{number}&family=Twin",
        "family=Twin",
        "name=Twin&birthdate=1970-01-01",
    ]
    body = {
        "resourceType": "Patient",
        "identifier": [{"system": CPR, "value": number}],
        "name": [{"family": "Twin"}],
        "birthDate": "1970-01-01",
    }

    async def one(n: int) -> httpx.Response:
        headers = {"If-None-Exist": criteria[n % len(criteria)]}
        return await clients[n % 2].post("Patient", json=body, headers=headers)

    responses = await asyncio.gather(*(one(n) for n in range(RACERS)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (RACERS - 1) + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    for client in clients:
        found = (await client.get("Patient", params={"identifier": f"{CPR}|{number}"})).json()
        assert len(found["entry"]) == 1


async def test_if_match_writers_in_two_processes_lose_no_update(
    clients: list[httpx.AsyncClient],
) -> None:
    made = (await clients[0].post("Patient", json={"resourceType": "Patient"})).json()
    url = f"Patient/{made['id']}"
    rng = random.Random(10)
    all_read = asyncio.Barrier(WRITERS)

    async def writer(n: int) -> tuple[int, int]:
        """Read, add this writer's mark, PUT with If-Match; on 412 read again. Returns the
        200s it got (one) and its attempts. The first PUTs wait until every writer has read,
        so they collide."""
        client = clients[n % 2]
        for attempt in range(1, 500):
            current = await client.get(url)
            assert current.status_code == 200
            resource = current.json()
            resource["identifier"] = [
                *resource.get("identifier", []),
                {"system": MARKS, "value": f"w{n}"},
            ]
            if attempt == 1:
                await all_read.wait()
            resp = await client.put(
                url, json=resource, headers={"If-Match": current.headers["etag"]}
            )
            if resp.status_code == 200:
                return 1, attempt
            assert resp.status_code == 412, resp.text
            await asyncio.sleep(rng.uniform(0, 0.01))
        raise AssertionError("no progress")

    results = await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    oks = sum(ok for ok, _ in results)
    assert oks == WRITERS
    assert sum(attempts for _, attempts in results) > WRITERS  # they really did collide

    for client in clients:  # both processes see the same final version
        final = await client.get(url)
        assert final.json()["meta"]["versionId"] == str(oks + 1)  # no update lost
        marks = [i["value"] for i in final.json()["identifier"] if i["system"] == MARKS]
        assert sorted(marks) == sorted(f"w{n}" for n in range(WRITERS))  # each exactly once
    history = (await clients[1].get(f"{url}/_history", params={"_count": "100"})).json()
    versions = [int(e["resource"]["meta"]["versionId"]) for e in history["entry"]]
    assert versions == list(range(oks + 1, 0, -1))
    print(  # the figures docs/reliability.md reports (pytest -s shows them)
        f"\n{WRITERS} If-Match writers in 2 processes: {oks} x 200,"
        f" {sum(a for _, a in results) - oks} x 412, final version {oks + 1}"
    )


async def test_a_search_parameter_stored_through_one_process_is_used_by_the_other(
    clients: list[httpx.AsyncClient],
) -> None:
    """Process 1 learns of a SearchParameter process 0 stored, searches with it and indexes its
    own writes by it; what was there before is found once process 0 has reindexed it."""
    colour = "http://example.org/fhir/StructureDefinition/twin-colour"
    liked = {"resourceType": "Patient", "extension": [{"url": colour, "valueCode": "teal"}]}
    before = await clients[1].post("Patient", json=liked)
    assert before.status_code == 201
    query = {"twincolour": "teal"}
    unknown = await clients[1].get("Patient", params=query)
    assert unknown.status_code == 400  # no such parameter yet
    param = {
        "resourceType": "SearchParameter",
        "url": "http://example.org/fhir/SearchParameter/patient-twin-colour",
        "name": "PatientTwinColour",
        "status": "active",
        "description": "The colour a twin likes best",
        "code": "twincolour",
        "base": ["Patient"],
        "type": "token",
        "expression": f"Patient.extension.where(url = '{colour}').value",
    }
    assert (await clients[0].post("SearchParameter", json=param)).status_code == 201

    async def search() -> tuple[int, list[str]]:
        found = await clients[1].get("Patient", params=query)
        return found.status_code, sorted(e["resource"]["id"] for e in found.json().get("entry", []))

    async def eventually(done: Callable[[int, list[str]], bool]) -> tuple[int, list[str]]:
        """Process 1 rechecks the store's SearchParameters once a second, and process 0
        reindexes in the background: poll, with a generous bound for a loaded machine."""
        for _ in range(150):
            status, ids = await search()
            if done(status, ids):
                break
            await asyncio.sleep(0.1)
        return status, ids

    assert (await eventually(lambda status, _: status == 200))[0] == 200
    after = await clients[1].post("Patient", json=liked)  # indexed by process 1 itself
    assert after.status_code == 201
    wanted = sorted([before.json()["id"], after.json()["id"]])
    assert await eventually(lambda _, ids: ids == wanted) == (200, wanted)
