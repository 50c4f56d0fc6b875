"""The server refuses a MongoDB that is not a replica set (issue 15 item 11): its writes are
multi-document transactions, which a standalone ``mongod`` refuses only at the first write
("Transaction numbers are only allowed on a replica set member or mongos"). The store says so
when it opens, with what to do — the server does not start, and the command line prints the
message without a traceback."""

from __future__ import annotations

import pytest

from fhir_server.cli import main
from fhir_server.search.extract import index_resource
from fhir_server.store.base import StoreUnusable
from fhir_server.store.mongo import store as mongo_store
from fhir_server.store.mongo.store import MongoStore
from tests.support.mongo_standin import AsyncMongoStandIn


async def test_a_standalone_mongodb_is_refused_with_what_to_do() -> None:
    store = MongoStore(AsyncMongoStandIn(replica_set=False), "fhir_t", index_resource)
    with pytest.raises(StoreUnusable) as raised:
        await store.open()
    message = str(raised.value)
    assert "not a replica set" in message
    assert "--replSet" in message and "rs.initiate" in message
    assert "directConnection=true" in message
    await store.close()


async def test_a_replica_set_member_is_accepted() -> None:
    store = MongoStore(AsyncMongoStandIn(), "fhir_t", index_resource)
    await store.open()
    await store.close()


def test_the_command_line_prints_the_refusal_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FHIR_STORE_URL", "mongodb://127.0.0.1:27017/")
    monkeypatch.setattr(
        mongo_store, "AsyncMongoClient", lambda url: AsyncMongoStandIn(replica_set=False)
    )
    assert main(["reindex", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "not a replica set" in err
    assert "Traceback" not in err
