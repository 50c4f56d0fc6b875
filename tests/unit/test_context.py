"""The interaction context's write seam: transient store conflicts that outlast the retries."""

from __future__ import annotations

import pytest

from fhir_server.access import UNRESTRICTED
from fhir_server.config import Settings
from fhir_server.errors import Conflict
from fhir_server.interactions.context import Context
from fhir_server.search.extract import index_resource
from fhir_server.services import create_services
from fhir_server.store.base import RetryableConflict
from fhir_server.store.sqlite.store import SqliteStore


async def test_persistent_write_conflicts_become_409(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = SqliteStore(str(tmp_path / "fhir.db"), index_resource)
    await store.open()
    attempts = 0

    async def always_conflicts(uow):  # type: ignore[no-untyped-def]
        nonlocal attempts
        attempts += 1
        raise RetryableConflict("write conflict")

    try:
        settings = Settings()
        ctx = Context(
            store, settings, UNRESTRICTED, "http://x/fhir", services=create_services(settings)
        )
        with pytest.raises(Conflict) as err:
            await ctx.write(always_conflicts)
        assert err.value.status == 409 and err.value.outcome()["issue"][0]["code"] == "conflict"
        assert attempts == 10
    finally:
        await store.close()
