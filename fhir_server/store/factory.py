"""Choose the store from its URL (the one place that wires a backend)."""

from __future__ import annotations

from fhir_server.config import Settings
from fhir_server.search.extract import index_resource
from fhir_server.store.base import Indexer, Store


def make_store(settings: Settings, indexer: Indexer = index_resource) -> Store:
    """``indexer``: the server's (`fhir_server.services`, with its custom search parameters);
    by default the specification's parameters only."""
    store = _backend(settings, indexer)
    store.base_url = settings.base_url.rstrip("/") if settings.base_url else None
    return store


def _backend(settings: Settings, indexer: Indexer) -> Store:
    url = settings.store_url
    if url.startswith("sqlite:"):
        from fhir_server.store.sqlite.store import SqliteStore

        return SqliteStore.from_url(
            url, indexer, settings.sqlite_synchronous, settings.sqlite_read_cache
        )
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from fhir_server.store.mongo.store import MongoStore

        return MongoStore.from_url(url, indexer, settings.mongodb_database)
    raise ValueError(f"FHIR_STORE_URL must start with sqlite:/// or mongodb://, not {url!r}")
