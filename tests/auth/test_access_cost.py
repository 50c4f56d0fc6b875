"""What access costs the store: a patient-scoped compartment page asks the caller's access once
and runs no more searches than the compartment needs (issue 11: it ran 9 where an admin runs 3).
Counted with a wrapper around the store's ``search``, so any backend's cost is seen alike."""

from __future__ import annotations

from typing import Any

import pytest

from tests.auth.conftest import Server, ids, mint

SCOPES = "launch/patient patient/Patient.rs patient/CarePlan.cruds patient/Practitioner.rs"


def _count_searches(server: Server, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    store = server.app.store
    search = store.search

    async def counted(query: Any) -> Any:
        calls.append(query)
        return await search(query)

    monkeypatch.setattr(store, "search", counted)
    return calls


@pytest.mark.parametrize(
    ("token", "searches"),
    [
        # the caller's compartment (one search per CarePlan compartment parameter: subject,
        # patient... as the access works it out once), the compartment's members, the page
        (mint(SCOPES, patient="p1"), 5),
        (mint("system/*.cruds"), 3),  # the compartment's members and the page
    ],
    ids=["patient-scoped", "admin"],
)
async def test_a_compartment_page_runs_only_the_searches_it_needs(
    server: Server, monkeypatch: pytest.MonkeyPatch, token: str, searches: int
) -> None:
    await server.get("Patient/p1/CarePlan", token)  # the token's caches are warm
    calls = _count_searches(server, monkeypatch)
    resp = await server.get("Patient/p1/CarePlan", token)
    assert resp.status_code == 200
    assert sorted(ids(resp.json())) == ["CarePlan/cp1", "CarePlan/cp3"]
    assert len(calls) == searches
