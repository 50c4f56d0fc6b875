"""The ``care_relationship`` table: reading a holder's patients and one holder and patient pair, and
replacing a resource's rows (docs/implementation/relationships.md).

Each look-up is a range of the table's primary key, ``(holder, patient, lo, hi, …)``:

- `related_patients`: ``SEARCH care_relationship USING PRIMARY KEY (holder=?)`` per holder;
- `is_related`: ``SEARCH care_relationship USING PRIMARY KEY (holder=? AND patient=? AND
  lo<?)`` per holder;
- replacing a resource's rows: ``SEARCH care_relationship USING COVERING INDEX
  care_relationship_by_source (rk=? AND recorded=?)``

(``tests/consent/test_relationship_index.py`` checks these plans).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from fhir_server.care_relationships import (
    OPEN_END,
    CareRelationship,
    instant_us,
    period_bounds,
)
from fhir_server.errors import Invalid
from fhir_server.store.sqlite.query import _in_list
from fhir_server.store.sqlite.schema import RELATIONSHIP_COLUMNS

Row = tuple[str, str, int, int, str]
"""(holder, patient, lo, hi, kind)."""

INSERT = (
    f"INSERT OR IGNORE INTO care_relationship ({RELATIONSHIP_COLUMNS}, rk, recorded)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def related_patients_sql(holders: Sequence[str], at: str) -> tuple[str, list[Any]]:
    args: list[Any] = []
    in_list = _in_list(list(holders), args)
    moment = instant_us(at)
    args += [moment, moment]
    sql = (
        "SELECT DISTINCT patient FROM care_relationship"
        f" WHERE holder IN {in_list} AND lo <= ? AND hi > ?"
    )
    return sql, args


def is_related_sql(patient: str, holders: Sequence[str], at: str) -> tuple[str, list[Any]]:
    args: list[Any] = []
    in_list = _in_list(list(holders), args)
    moment = instant_us(at)
    args += [patient, moment, moment]
    sql = (
        "SELECT 1 FROM care_relationship"
        f" WHERE holder IN {in_list} AND patient = ? AND lo <= ? AND hi > ? LIMIT 1"
    )
    return sql, args


def related_patients(conn: sqlite3.Connection, holders: Sequence[str], at: str) -> set[str]:
    if not holders:
        return set()
    return {row[0] for row in conn.execute(*related_patients_sql(holders, at))}


def is_related(conn: sqlite3.Connection, patient: str, holders: Sequence[str], at: str) -> bool:
    if not holders:
        return False
    return conn.execute(*is_related_sql(patient, holders, at)).fetchone() is not None


def rows(related: Sequence[CareRelationship]) -> set[Row]:
    """The rows of derived relationships; one whose dates cannot be read is left out (it is not
    known to hold)."""
    out: set[Row] = set()
    for rel in related:
        try:
            lo, hi = rel.bounds()
        except Invalid:
            continue
        out.add((rel.holder, rel.patient, lo, hi, rel.kind))
    return out


def replace(conn: sqlite3.Connection, rk: int, related: Sequence[CareRelationship]) -> None:
    """Make the derived rows of resource ``rk`` exactly ``related``, writing only what changed
    (an update that keeps its participants leaves their rows alone); recorded rows stay."""
    new = rows(related)
    old = set(
        conn.execute(
            f"SELECT {RELATIONSHIP_COLUMNS} FROM care_relationship WHERE rk = ? AND recorded = 0",
            (rk,),
        )
    )
    if old - new:
        conn.executemany(
            "DELETE FROM care_relationship WHERE holder = ? AND patient = ? AND lo = ?"
            " AND hi = ? AND kind = ? AND rk = ? AND recorded = 0",
            [(*row, rk) for row in old - new],
        )
    if new - old:
        conn.executemany(INSERT, [(*row, rk, 0) for row in new - old])


def drop(conn: sqlite3.Connection, rk: int) -> None:
    """Every row of resource ``rk``, recorded ones too (it was deleted)."""
    conn.execute("DELETE FROM care_relationship WHERE rk = ?", (rk,))


def record(conn: sqlite3.Connection, patient: str, holder: str, kind: str, start: str) -> None:
    """A recorded relationship of Patient ``patient`` from ``start`` on, kept with the Patient's
    rows (``rk``); LookupError when no such Patient is stored."""
    found = conn.execute(
        "SELECT rk FROM resource WHERE type = 'Patient' AND id = ? AND deleted = 0", (patient,)
    ).fetchone()
    if found is None:
        raise LookupError(f"Patient/{patient} is not stored")
    lo, _ = period_bounds(start, None)
    conn.execute(INSERT, (holder, patient, lo, OPEN_END, kind, found[0], 1))
