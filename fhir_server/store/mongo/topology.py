"""What kind of MongoDB deployment the store talks to: it must be a replica set (or a sharded
cluster's ``mongos``), because every write is a multi-document transaction, which a standalone
``mongod`` refuses — only at the first write, and with a message that names no remedy."""

from __future__ import annotations

from typing import Any

from fhir_server.store.base import StoreUnusable

NOT_A_REPLICA_SET = (
    "FHIR_STORE_URL names a MongoDB that is not a replica set: this server writes in "
    "multi-document transactions, which MongoDB offers only on a replica set (or through a "
    "sharded cluster's mongos). Start mongod with --replSet rs0 and run rs.initiate() once "
    "(a single-node replica set is enough; `docker compose up` starts one, README), then "
    "connect with ?replicaSet=rs0 — or, from outside the set's own network, with "
    "?directConnection=true."
)


async def require_replica_set(client: Any) -> None:
    """Raise `StoreUnusable` unless ``client`` reaches a replica set member or a mongos
    (the ``hello`` command: ``setName``, or ``msg: isdbgrid``)."""
    hello = await client.admin.command("hello")
    if hello.get("setName") or hello.get("msg") == "isdbgrid":
        return
    raise StoreUnusable(NOT_A_REPLICA_SET)
