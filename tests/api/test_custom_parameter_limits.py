"""A custom SearchParameter's expression runs on every write of its base types and on every
stored resource when they are reindexed, so what it may cost is bounded (issue 10, item 7): its
size, and constructs whose work grows faster than the resource (``descendants()``, ``repeat()``,
re-rooting to ``%context`` inside a ``select``, quadratic collection functions) are refused,
naming ``SearchParameter.expression``; the reindex after a new parameter runs its FHIRPath off
the event loop, so other requests are answered while it runs."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from fhir_server.search.custom import MAX_EXPRESSION
from tests.api.support import app_of, assert_outcome, create
from tests.api.test_custom_search_parameters import colour_param, coloured


def plan_param(expression: str) -> dict[str, Any]:
    return {
        "resourceType": "SearchParameter",
        "url": "http://example.org/fhir/SearchParameter/plan-x",
        "name": "PlanX",
        "status": "active",
        "description": "an expensive expression",
        "code": "x",
        "base": ["CarePlan"],
        "type": "token",
        "expression": expression,
    }


async def test_an_expression_over_the_size_limit_is_refused(client: httpx.AsyncClient) -> None:
    path = "CarePlan.status"
    long = " | ".join([path] * (MAX_EXPRESSION // len(path)))
    assert len(long) > MAX_EXPRESSION
    outcome = assert_outcome(
        await client.post("SearchParameter", json=plan_param(long)),
        400,
        "invalid",
        ["SearchParameter.expression"],
    )
    assert str(MAX_EXPRESSION) in outcome["issue"][0]["diagnostics"]
    nested = "(" * 10_000 + path + ")" * 10_000  # quadratic to compile once (19 KB: 15 s)
    assert_outcome(
        await client.post("SearchParameter", json=plan_param(nested)),
        400,
        "invalid",
        ["SearchParameter.expression"],
    )
    assert not (await client.get("SearchParameter")).json().get("entry")
    short = " | ".join([path] * (MAX_EXPRESSION // (len(path) + 3)))
    assert len(short) <= MAX_EXPRESSION
    assert (await client.post("SearchParameter", json=plan_param(short))).status_code == 201


@pytest.mark.parametrize(
    "expression",
    [
        "CarePlan.descendants().select(code)",  # the one that froze the server for 21.6 s
        "CarePlan.repeat(activity).status",
        "CarePlan.activity.select(%context.activity.select(%context.activity)).detail.code",
        "CarePlan.activity.select(%resource.activity).detail.code",
        "CarePlan.activity.aggregate($total | $this)",
        "CarePlan.activity.detail.code.distinct()",
        "(CarePlan.activity | CarePlan.activity).detail.code",
        "CarePlan.activity.detail.code.intersect(CarePlan.activity.detail.code)",
        "CarePlan.activity.`descendants`().code",
    ],
)
async def test_unbounded_constructs_are_refused(client: httpx.AsyncClient, expression: str) -> None:
    resp = await client.post("SearchParameter", json=plan_param(expression))
    assert_outcome(resp, 400, "invalid", ["SearchParameter.expression"])


async def test_metadata_is_answered_while_a_reindex_runs(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reindex a new parameter starts evaluates expressions on a worker thread: held there
    (the gate), the loop still answers ``/metadata``, before the reindex completes."""
    entries = [
        {"resource": coloured(f"P{i}", "blue"), "request": {"method": "POST", "url": "Patient"}}
        for i in range(300)
    ]
    resp = await client.post("", json={"resourceType": "Bundle", "type": "batch", "entry": entries})
    assert resp.status_code == 200, resp.text

    gate = threading.Event()
    extracting = threading.Event()
    app = app_of(client)
    real = app.services.indexer.plan

    def gated(type_: str) -> Any:
        if threading.current_thread() is not threading.main_thread():
            extracting.set()
            gate.wait(timeout=60)  # a safety net only: the test opens the gate
        return real(type_)

    monkeypatch.setattr(app.services.indexer, "plan", gated)
    await create(client, colour_param())
    try:
        metadata = await client.get("metadata")
        assert metadata.status_code == 200
        assert app.services.custom.reindexing, "the reindex was over before /metadata was answered"
    finally:
        gate.set()
    await app.services.custom.reindexed()
    assert extracting.is_set()
    count = await client.get("Patient?colour=blue&_summary=count")
    assert count.json()["total"] == 300
