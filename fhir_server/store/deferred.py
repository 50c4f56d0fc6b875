"""The background indexer of the store's deferred journal (`UnitOfWork.append_deferred`): a
task of the server's lifespan that stores what waits there in big batches, so reads of the
deferred types rarely find much to drain themselves (`Store.drain_deferred`)."""

from __future__ import annotations

import asyncio
import logging

from fhir_server.store.base import DEFERRED_BATCH, Store, StoreBusy

PAUSE_SECONDS = 0.25
"""How long the indexer rests when the journal held less than a batch (`DEFERRED_BATCH`): under
a read load of a thousand audited requests a second it works batch after batch."""

_log = logging.getLogger(__name__)


async def keep_indexing(store: Store, pause: float = PAUSE_SECONDS) -> None:
    """Index the journal until cancelled. Every server process runs one; on SQLite their units
    of work are serialized by the write lock, on MongoDB concurrent takers conflict and one
    retries, so each deferred resource is stored once whichever process takes it."""
    while True:
        try:
            done = await store.index_deferred()
        except asyncio.CancelledError:
            raise
        except StoreBusy:
            done = 0
        except Exception:  # the next round tries again; the rows stay in the journal meanwhile
            _log.exception("indexing the deferred journal failed")
            done = 0
        if done < DEFERRED_BATCH:
            await asyncio.sleep(pause)


async def index_all(store: Store) -> int:
    """Index everything in the journal now (shutdown, ``fhir-server`` tools); returns how many."""
    total = 0
    while done := await store.index_deferred():
        total += done
    return total
