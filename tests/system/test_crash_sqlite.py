"""Kill the server (SIGKILL) while transaction Bundles are loading: afterwards the SQLite file
opens, no transaction is partly visible, and every acknowledged transaction is all there."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fhir_server.search.extract import index_resource
from fhir_server.search.model import Filter, SearchQuery, TokenValue
from fhir_server.store.sqlite.store import SqliteStore

MARK = "urn:test:bundle"
ENTRIES = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bundle(k: int) -> dict:
    entries = []
    for i in range(ENTRIES):
        ident = [{"system": MARK, "value": f"b{k}"}]
        if i % 2 == 0:
            res = {"resourceType": "Patient", "identifier": ident, "name": [{"family": f"P{i}"}]}
        else:
            res = {
                "resourceType": "CarePlan",
                "identifier": ident,
                "status": "active",
                "intent": "plan",
                "subject": {"reference": f"urn:uuid:{k:08d}-0000-4000-8000-{i - 1:012d}"},
            }
        entries.append(
            {
                "fullUrl": f"urn:uuid:{k:08d}-0000-4000-8000-{i:012d}",
                "resource": res,
                "request": {"method": "POST", "url": res["resourceType"]},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _wait_for(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited early"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("server did not start")


async def _load(port: int, acked: set[int], sent: set[int], stop: asyncio.Event) -> None:
    base = f"http://127.0.0.1:{port}/fhir"
    counter = iter(range(10**6))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            while not stop.is_set():
                k = next(counter)
                sent.add(k)
                try:
                    r = await http.post("", json=_bundle(k))
                except httpx.HTTPError:
                    return  # the server died under us
                if r.status_code == 200:
                    acked.add(k)

    await asyncio.gather(*(client() for _ in range(4)))


async def _count(store: SqliteStore, k: int) -> int:
    total = 0
    for type_ in ("Patient", "CarePlan"):
        query = SearchQuery(type_, [Filter("identifier", "token", (TokenValue(MARK, f"b{k}"),))])
        query.count = 1000
        total += len((await store.search(query)).items)
    return total


async def test_kill_during_transactions_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "fhir.db"
    port = _free_port()
    env = {**os.environ, "FHIR_STORE_URL": f"sqlite:///{db}", "FHIR_REQUIRED_PROFILES": "{}"}
    cmd = [sys.executable, "-m", "fhir_server.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--no-access-log", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    acked: set[int] = set()
    sent: set[int] = set()
    stop = asyncio.Event()
    try:
        _wait_for(port, proc)
        loader = asyncio.create_task(_load(port, acked, sent, stop))
        while len(acked) < 15:
            await asyncio.sleep(0.02)
            assert not loader.done(), "loader stopped before the kill"
        os.kill(proc.pid, signal.SIGKILL)  # mid-flight: four clients are posting right now
        proc.wait(timeout=10)
        stop.set()
        await asyncio.wait_for(loader, 30)
    finally:
        if proc.poll() is None:
            proc.kill()

    store = SqliteStore(str(db), index_resource)
    await store.open()
    try:
        assert store.reader.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        counts = {k: await _count(store, k) for k in sent}
    finally:
        await store.close()
    assert all(counts[k] == ENTRIES for k in acked), "an acknowledged transaction is missing"
    partial = {k: n for k, n in counts.items() if n not in (0, ENTRIES)}
    assert partial == {}, f"partly visible transactions: {partial}"
    assert sent - acked, "the kill should have caught transactions in flight"
