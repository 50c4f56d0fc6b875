"""The consent leak suite, per kind of principal the issue names (world.CASES) by read path
(issue 12 item 5): a hidden resource, count, include, page or history entry answers exactly as
one that never existed; what the principal may see comes back, exactly.

`strict` cases (no relationship) must not differ from the never-existing answer at all; a
related clinician narrowed by a block may in addition get the warning OperationOutcome of item
6, and nothing else. Read-only: the world is shared by the whole module, per store."""

from __future__ import annotations

from typing import Any

import pytest

from tests.auth.conftest import Server, bearer
from tests.consent.support import entries, found, get, indistinguishable, never_swaps, pages
from tests.consent.world import BY_ID, CASE_IDS, CASES, NEVER, PATIENT_DATA, TEST_ID, Case

pytestmark = [pytest.mark.asyncio(loop_scope="package")]

cases = pytest.mark.parametrize("case", CASES, ids=CASE_IDS)


def _never(key: str, i: int) -> str:
    return f"{key.split('/', 1)[0]}/{NEVER}-{i}"


def _of_type(keys: frozenset[str] | set[str], type_: str) -> set[str]:
    return {k for k in keys if k.startswith(type_ + "/")}


async def _same(world: Server, case: Case, url: str, never_url: str, swaps: dict[str, str]) -> None:
    token = case.principal.token
    hidden = await get(world, url, token)
    never = await get(world, never_url, token)
    indistinguishable(hidden, never, swaps, case.strict)


@cases
async def test_read_and_vread(world: Server, case: Case) -> None:
    """A hidden resource reads (and vreads, and lists its history) as one that never existed;
    a visible one reads."""
    token = case.principal.token
    for i, key in enumerate(sorted(case.hidden)):
        swaps = {key.split("/", 1)[1]: f"{NEVER}-{i}"}
        never = _never(key, i)
        for suffix in ("", "/_history/1", "/_history"):
            await _same(world, case, key + suffix, never + suffix, swaps)
    for key in sorted(case.visible):
        assert (await get(world, key, token)).status_code == 200, key
        assert (await get(world, key + "/_history/1", token)).status_code == 200, key


def _search(type_: str, patient: str, extra: str) -> str:
    if type_ == "Patient":
        return f"Patient?_id={patient}{extra}"
    return f"{type_}?patient={patient}{extra}"


@cases
@pytest.mark.parametrize(
    "extra",
    [
        "&_total=accurate&_count=100",
        "&_summary=count",
        "&_count=1&_total=accurate",
        "&_count=100",
        "&_count=0&_totalMethod=count",
    ],
)
async def test_search_by_patient(world: Server, case: Case, extra: str) -> None:
    """Search with an exact total, ``_summary=count``, one-row pages, the total a whole first
    page gives by default and fhirpy's count: the visible ids and their count; where nothing is
    visible, the answer for a citizen that never existed."""
    token = case.principal.token
    for type_ in PATIENT_DATA:
        url = _search(type_, case.patient, extra)
        expected = _of_type(case.visible, type_)
        if not expected:
            await _same(world, case, url, _search(type_, NEVER, extra), {case.patient: NEVER})
            continue
        ids, total = await found(world, url, token)
        assert total == len(expected), (url, total)
        if "_summary=count" in extra or "_count=0" in extra:
            assert ids == []
        elif "_count=1" in extra:  # one page per visible row, each full
            got = await pages(world, url, token)
            assert [len(p) for p in got] == [1] * len(expected), (url, got)
            assert {k for p in got for k in p} == expected, (url, got)
        else:
            assert set(ids) == expected and len(ids) == len(expected), (url, ids)


@cases
async def test_compartment_search(world: Server, case: Case) -> None:
    token = case.principal.token
    for type_ in PATIENT_DATA[1:]:
        url = f"Patient/{case.patient}/{type_}?_total=accurate"
        expected = _of_type(case.visible, type_)
        if not expected:
            never = f"Patient/{NEVER}/{type_}?_total=accurate"
            await _same(world, case, url, never, {case.patient: NEVER})
            continue
        ids, total = await found(world, url, token)
        assert (set(ids), total) == (expected, len(expected)), url


def _derived(keys: set[str]) -> set[str]:
    return {
        d["reference"]
        for k in keys
        if k.startswith("Observation/")
        for d in BY_ID[k].get("derivedFrom", [])
    }


REVINCLUDES = "".join(f"&_revinclude={t}:subject" for t in PATIENT_DATA[1:])


@cases
async def test_include_revinclude_iterate(world: Server, case: Case) -> None:
    """An include or revinclude brings only what the principal may see, never a hidden target
    of a visible resource (obs-dorte is derived from the private obs-dorte-r)."""
    token, p, seen = case.principal.token, case.patient, case.visible
    obs = _of_type(seen, "Observation")
    patient_seen = f"Patient/{p}" in seen
    queries: list[tuple[str, str, set[str]]] = [
        (
            f"Patient?_id={p}{REVINCLUDES}",
            f"Patient?_id={NEVER}{REVINCLUDES}",
            set(seen) if patient_seen else set(),
        ),
        (
            f"Observation?patient={p}&_include=Observation:subject"
            "&_include=Observation:derived-from",
            f"Observation?patient={NEVER}&_include=Observation:subject"
            "&_include=Observation:derived-from",
            (obs | (({f"Patient/{p}"} if obs else set()) | _derived(obs))) & seen,
        ),
        (
            f"Patient?_id={p}&_revinclude=Observation:subject"
            "&_include:iterate=Observation:derived-from",
            f"Patient?_id={NEVER}&_revinclude=Observation:subject"
            "&_include:iterate=Observation:derived-from",
            ({f"Patient/{p}"} | obs) & seen if patient_seen else set(),
        ),
    ]
    for url, never, expected in queries:
        if not expected:
            await _same(world, case, url, never, {p: NEVER})
            continue
        ids, _ = await found(world, url, token)
        assert set(ids) == expected and len(ids) == len(set(ids)), (url, ids)


@cases
async def test_chains_and_has(world: Server, case: Case) -> None:
    """A chain through a hidden Patient matches nothing; ``_has`` through a hidden Observation
    matches nothing."""
    token, p, seen = case.principal.token, case.patient, case.visible
    url = f"Observation?subject:Patient.identifier={TEST_ID}|{p}&_total=accurate"
    expected = _of_type(seen, "Observation") if f"Patient/{p}" in seen else set()
    if expected:
        ids, total = await found(world, url, token)
        assert (set(ids), total) == (expected, len(expected)), url
    else:
        never = f"Observation?subject:Patient.identifier={TEST_ID}|{NEVER}&_total=accurate"
        await _same(world, case, url, never, {p: NEVER})
    for i, key in enumerate(sorted(_of_type(case.data, "Observation"))):
        oid = key.split("/", 1)[1]
        url = f"Patient?_has:Observation:subject:identifier={TEST_ID}|{oid}&_total=accurate"
        if key in seen and f"Patient/{p}" in seen:
            assert await found(world, url, token) == ([f"Patient/{p}"], 1), url
        else:
            never = url.replace(oid, f"{NEVER}-{i}")
            await _same(world, case, url, never, {oid: f"{NEVER}-{i}"})


@cases
async def test_system_search(world: Server, case: Case) -> None:
    token = case.principal.token
    types = ",".join(PATIENT_DATA)
    keys = sorted(case.data)
    bare = ",".join(k.split("/", 1)[1] for k in keys)
    url = f"?_type={types}&_id={bare}&_total=accurate"
    if case.visible:
        ids, total = await found(world, url, token)
        assert (set(ids), total) == (set(case.visible), len(case.visible)), ids
    else:
        swaps = never_swaps(case.patient, *keys)
        never = f"?_type={types}&_id={','.join(swaps[k.split('/', 1)[1]] for k in keys)}"
        await _same(world, case, url, never + "&_total=accurate", swaps)


def _bundle(kind: str, urls: list[str]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [{"request": {"method": "GET", "url": u}} for u in urls],
    }


@cases
@pytest.mark.parametrize("kind", ["batch", "transaction"])
async def test_batch_and_transaction_entries(world: Server, case: Case, kind: str) -> None:
    """Reads and searches inside a batch or transaction answer as they do alone: a batch's
    hidden reads as unknown ids, a transaction (which fails on its first hidden read) as the
    same transaction of never-existing ids."""
    token, p = case.principal.token, case.patient
    hidden = sorted(case.hidden)
    swaps = never_swaps(p, *hidden)
    urls = [*hidden, f"Observation?patient={p}&_total=accurate", f"Patient?_id={p}"]
    never_urls = [
        *(f"{k.split('/', 1)[0]}/{swaps[k.split('/', 1)[1]]}" for k in hidden),
        f"Observation?patient={NEVER}&_total=accurate",
        f"Patient?_id={NEVER}",
    ]
    a = await world.client.post("", json=_bundle(kind, urls), headers=bearer(token))
    b = await world.client.post("", json=_bundle(kind, never_urls), headers=bearer(token))
    if case.visible and kind == "batch":  # what must not differ: the hidden reads
        assert a.status_code == b.status_code == 200, (a.text[:500], b.text[:500])
        for ea, eb in zip(a.json()["entry"][: len(hidden)], b.json()["entry"], strict=False):
            assert ea["response"]["status"] == eb["response"]["status"], ea
            assert "resource" not in ea or ea["resource"]["resourceType"] == "OperationOutcome"
        searched = a.json()["entry"][len(hidden)]["resource"]
        assert set(entries(searched)) == {k for k in case.visible if "Observation/" in k}
        return
    indistinguishable(a, b, swaps, case.strict)
