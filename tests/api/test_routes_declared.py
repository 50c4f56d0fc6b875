"""The CapabilityStatement and the router are one: every interaction and operation the statement
declares is served, and every route that serves one is declared — for the server's routes and
for a server built with fewer (the statement follows the router, not a list of its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from fhir_server.interactions.router import TYPE_SHAPES, Route
from fhir_server.interactions.routes import OPERATIONS, ROUTES
from fhir_server.operations import Operation
from fhir_server.operations.validate import VALIDATE
from fhir_server.services import create_services
from tests.api.support import BASE
from tests.support.backends import app_store

PATHS = {  # a request path of each route shape
    "type": "Patient",
    "type-search": "Patient/_search",
    "type-history": "Patient/_history",
    "instance": "Patient/p1",
    "instance-history": "Patient/p1/_history",
    "version": "Patient/p1/_history/1",
    "compartment": "Patient/p1/Observation",
    "system": "",
    "system-history": "_history",
    "metadata": "metadata",
    "operation": "Patient/$validate",
}
BODIES: dict[str, Any] = {
    "POST": {"resourceType": "Patient"},
    "PUT": {"resourceType": "Patient", "id": "p1"},
    "PATCH": [],
}


@asynccontextmanager
async def _client(
    backend: str, tmp_path: Path, routes: tuple[Route, ...], operations: tuple[Operation, ...]
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'fhir.db'}",
        auth="off",
        required_profiles={},
        install_conformance=False,
    )
    app = ServerApp(
        settings, app_store(backend), services=create_services(settings, routes, operations)
    )
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            statement = (await client.get("metadata")).json()
            yield client, statement
    finally:
        await app.shutdown()


def _declared(statement: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """(type interaction codes, system interaction codes, operation names), each the same for
    every resource type that has it."""
    rest = statement["rest"][0]
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    for r in rest["resource"]:
        assert r.get("interaction") == patient.get("interaction"), r["type"]
    return (
        {i["code"] for i in patient.get("interaction", [])},
        {i["code"] for i in rest.get("interaction", [])},
        {o["name"] for r in rest["resource"] for o in r.get("operation", [])},
    )


async def _send(client: httpx.AsyncClient, method: str, path: str) -> httpx.Response:
    body = BODIES.get(method)
    headers = {"Content-Type": "application/json-patch+json"} if method == "PATCH" else {}
    return await client.request(method, path, json=body, headers=headers)


async def _check(
    backend: str, tmp_path: Path, routes: tuple[Route, ...], operations: tuple[Operation, ...]
) -> None:
    async with _client(backend, tmp_path, routes, operations) as (client, statement):
        types, system, ops = _declared(statement)
        routed = {(r.shape, r.method) for r in routes}
        assert types == {c for r in routes if r.shape in TYPE_SHAPES for c in r.codes}
        assert system == {c for r in routes if r.shape not in TYPE_SHAPES for c in r.codes}
        assert ops == {op.name for op in operations}
        for shape, path in PATHS.items():  # served exactly where routed
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                resp = await _send(client, method, path)
                assert (resp.status_code != 405) == ((shape, method) in routed), (method, path)
        for op in OPERATIONS:  # declared exactly where served
            type_ = sorted(op.types or {"Patient"})[0]
            at = type_ if op.levels - {"instance"} else f"{type_}/x"  # instance-only: on one
            resp = await client.post(f"{at}/${op.name}", json={"resourceType": "Parameters"})
            unsupported = resp.status_code == 400 and any(
                i["code"] == "not-supported" and i.get("expression") == [f"${op.name}"]
                for i in resp.json()["issue"]
            )
            assert unsupported == (op.name not in ops), (op.name, resp.text)


async def test_the_servers_routes_are_all_declared_and_served(backend: str, tmp_path: Path) -> None:
    await _check(backend, tmp_path, ROUTES, OPERATIONS)


@pytest.mark.parametrize("left_out", ["PATCH", "system", "type-history"])
async def test_a_route_left_out_is_neither_served_nor_declared(
    backend: str, tmp_path: Path, left_out: str
) -> None:
    routes = tuple(r for r in ROUTES if left_out not in (r.method, r.shape))
    await _check(backend, tmp_path, routes, (VALIDATE,))
