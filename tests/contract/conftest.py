"""The storage contract runs against every backend of the matrix (tests/support/backends.py):
SQLite (a real file), the MongoDB store on the in-process MongoDB-API stand-in (in its
snapshot-isolation mode, so races can happen), and a real MongoDB when FHIR_TEST_MONGODB_URI is
set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fhir_server.store.base import Store
from tests.support.backends import BACKENDS, make_store

__all__ = ["BACKENDS", "make_backend"]


async def make_backend(name: str, tmp_path: Path) -> Store:
    """A store of backend ``name`` that can race: the stand-in in snapshot-isolation mode."""
    return make_store(name, tmp_path, snapshot_isolation=True)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend = await make_backend(request.param, tmp_path)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
