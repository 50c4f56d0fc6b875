"""Reliable messaging (MedCom's 043 rules, part A.1 of the sources): every received message is
remembered by the Acknowledgement it was answered with, so that

- both Bundle.id and MessageHeader.id seen → the *same* Acknowledgement again, nothing stored;
- MessageHeader.id seen in a new Bundle.id → a duplicate: logged, the same Acknowledgement,
  nothing shown twice (the new envelope id is remembered too);
- Bundle.id seen with a new MessageHeader.id → fatal-error (Bundle ids are never reused).

The records are Bundles, a type the REST API does not serve (so no client reads them but
through the system history of a ``system/`` token), read by id only:

- the Acknowledgement sent, stored under its own id (derived from the acknowledged
  MessageHeader.id, `acknowledgement.ack_id`) — the answer to every delivery of the message;
- one small ``collection`` Bundle per envelope id received (its id derived from the Bundle.id),
  linking to that Acknowledgement.

Neither holds personal data: the Acknowledgement carries the message's Provenance and
Organizations, never its Patient; nothing of a message itself is kept but what it became.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from fhir_server import fhir_json
from fhir_server.interactions.context import Context
from fhir_server.store.base import UnitOfWork
from fhir_server.stored import StoredResource
from medcom.acknowledgement import ack_id
from medcom.codes import ENVELOPE_ID

log = logging.getLogger("medcom")


async def answered(ctx: Context, header_id: str) -> StoredResource | None:
    """The Acknowledgement already sent for MessageHeader ``header_id``, if any."""
    return _live(await ctx.read("Bundle", ack_id(header_id)))


async def envelope_seen(ctx: Context, envelope: str) -> bool:
    """Whether a message arrived in envelope (Bundle.id) ``envelope`` before."""
    return _live(await ctx.read("Bundle", ack_id(envelope, "envelope"))) is not None


async def keep(uow: UnitOfWork, ack: dict[str, Any], envelope: str | None) -> StoredResource:
    """Store ``ack`` (the first answer to its message) and the envelope it came in. A
    concurrent delivery of the same message that stored its answer first makes this one
    fail (`VersionConflict`, the unit of work rolled back): the message is filed once."""
    stored, _ = await uow.write("Bundle", ack["id"], dict(ack), method="PUT", must_not_exist=True)
    if (
        envelope is not None
        and _live(await uow.read("Bundle", ack_id(envelope, "envelope"))) is None
    ):
        await arrived_in(uow, stored, envelope)  # (a reused one stays its first message's)
    return stored


async def arrived_in(uow: UnitOfWork, ack: StoredResource, envelope: str) -> None:
    """Remember that the message answered by ``ack`` came in envelope ``envelope``."""
    record = {
        "resourceType": "Bundle",
        "type": "collection",
        "identifier": {"system": ENVELOPE_ID, "value": envelope},
        "link": [{"relation": "acknowledgement", "url": f"Bundle/{ack.id}"}],
    }
    await uow.write(
        "Bundle", ack_id(envelope, "envelope"), record, method="PUT", must_not_exist=True
    )


def _live(stored: StoredResource | None) -> StoredResource | None:
    return stored if stored is not None and not stored.deleted else None


def answer(stored: StoredResource) -> bytes:
    """The Acknowledgement as it was sent: the stored record without this server's bookkeeping
    (version, time, envelope tags) — the same bytes for every delivery of the message."""
    record = orjson.loads(stored.content or b"{}")
    meta = record.get("meta") or {}
    record["meta"] = {"profile": meta.get("profile", [])}
    return fhir_json.dumps(record)


def log_duplicate(header_id: str, new_envelope: bool) -> None:
    """Duplicates are logged (MedCom: "MUST log them"): message ids only, no content."""
    log.info(
        "duplicate MedCom message %s (%s): answered with its first acknowledgement",
        header_id,
        "new envelope" if new_envelope else "same envelope",
    )
