"""Searches run in the benchmark's own process against a database file, without HTTP: how long
the store's part takes, and SQLite's plan for every statement a search runs."""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fhir_server.search.includes import included
from fhir_server.search.registry import SPECIFICATION
from fhir_server.search.resolve import build_query
from fhir_server.search.terms import SearchQuery
from fhir_server.store.sqlite.query import compile_search
from fhir_server.store.sqlite.rows import read_current as _read
from fhir_server.store.sqlite.rows import search_page as _search
from fhir_server.stored import StoredResource


class _Recorder:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.statements: list[tuple[str, list[Any]]] = []

    async def search_all(self, query: SearchQuery) -> list[StoredResource]:
        """Every match, page after page (as fhir_server.interactions.common.searcher)."""
        out: list[StoredResource] = []
        while True:
            self.statements.append(compile_search(query))
            page = _search(self.conn, query)
            out += page.items
            if page.next_cursor is None or len(out) >= query.count:
                return out
            query.after_id = page.next_cursor

    async def read(self, type_: str, id_: str) -> StoredResource | None:
        return _read(self.conn, type_, id_)

    async def run(self, path: str, pages: int = 1) -> None:
        type_, _, qs = path.partition("?")
        pairs = parse_qsl(qs, keep_blank_values=True)
        query = await build_query(
            self.search_all,
            type_,
            pairs,
            params=SPECIFICATION,
            default_count=50,
            max_count=1000,
        )
        for _ in range(pages):
            self.statements.append(compile_search(query))
            page = _search(self.conn, query)
            if page.next_cursor is None:
                break
            query.after_id = page.next_cursor
        if query.includes or query.revincludes:
            inc, rev = query.includes, query.revincludes
            await included(self.read, self.search_all, SPECIFICATION, page.items, inc, rev)


def _plan(conn: sqlite3.Connection, sql: str, args: list[Any]) -> list[str]:
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
    depth: dict[int, int] = {0: -1}
    out = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        out.append("  " * depth[node] + detail)
    return out


def explain(db: Path, paths: list[str], pages: int = 1) -> tuple[float, list[str]]:
    """Median ms over ``paths`` (each run ``pages`` pages deep: the last page is timed, so
    includes the earlier ones) and the plan of every statement of the first path."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA mmap_size=268435456")
    try:
        times, plan = [], []
        for i, path in enumerate([paths[0], *paths]):  # the first run warms the cache
            rec = _Recorder(conn)
            start = time.perf_counter()
            asyncio.run(rec.run(path, pages))
            ms = (time.perf_counter() - start) * 1000
            if i == 0:
                continue
            times.append(ms / pages)
            if i == 1:
                shown = rec.statements if pages == 1 else rec.statements[-1:]
                for sql, args in shown:
                    plan.append(f"-- {_abridge(sql)}")
                    plan += _plan(conn, sql, args)
        return statistics.median(times), plan
    finally:
        conn.close()


def _abridge(sql: str, width: int = 400) -> str:
    return sql if len(sql) <= width else sql[:width] + " …"
