"""How what a message becomes is found and written here, shared by the handlers: the citizen by
CPR or replacement CPR, and a write checked and admitted as any write is (the R4 definition,
the access seam), in the message's unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from copy import deepcopy
from typing import Any

from fhir_server.errors import FhirError
from fhir_server.interactions.common import new_id
from fhir_server.interactions.context import Context
from fhir_server.search.parse import parse_search
from fhir_server.stored import StoredResource
from medcom.codes import OPERATION_OUTCOME_CODES, PATIENT_SYSTEMS
from medcom.inbound.checks import organization_of, token
from medcom.inbound.message import Message, Problem, Rejected

NOT_HERE = "The citizen is not one this receiver serves"
"""One text for a citizen unknown here and one not served: the answer reveals neither."""


async def search_one(
    ctx: Context, type_: str, pairs: list[tuple[str, str]]
) -> StoredResource | None:
    """The first current match of ``pairs`` (the server's own look-up)."""
    query = parse_search(type_, pairs, params=ctx.params, default_count=1, max_count=1)
    page = await ctx.search(query)
    return page.items[0] if page.items else None


async def patient_here(ctx: Context, message: Message, patient: dict[str, Any]) -> StoredResource:
    """The stored Patient the message's Patient is (by CPR, X-eCPR or D-eCPR), else a
    fatal-error: this server files messages only about citizens it holds."""
    values = [
        token(i["system"], i["value"])
        for i in patient.get("identifier") or []
        if isinstance(i, dict) and i.get("system") in PATIENT_SYSTEMS and i.get("value")
    ]
    found = await search_one(ctx, "Patient", [("identifier", ",".join(values))]) if values else None
    if found is None:
        raise not_here(message, patient)
    return found


def not_here(message: Message, patient: dict[str, Any]) -> Rejected:
    """The one answer for a citizen unknown here and one the receiver does not serve: the
    same text, element and issue detail, so it reveals neither."""
    where = f"Bundle.entry[{message.index_of(patient)}].resource.identifier"
    detail = (OPERATION_OUTCOME_CODES, "MSG_RESOURCE_REQUIRED")
    return Rejected([Problem(NOT_HERE, where, detail, "not-found")])


async def receiving_organization(ctx: Context, message: Message) -> str:
    """The id of the stored Organization the message is addressed to (checked before)."""
    found = await organization_of(ctx, message, message.receiver)
    assert found is not None
    return found


async def organization_reference(
    ctx: Context, message: Message, organization: dict[str, Any] | None
) -> str | None:
    """``Organization/<id>`` of the stored Organization a message's Organization is, or None."""
    found = await organization_of(ctx, message, organization)
    return f"Organization/{found}" if found else None


async def create(ctx: Context, type_: str, resource: dict[str, Any]) -> StoredResource:
    """``resource`` created as a client's create would be: checked, prepared and admitted by
    the caller's access; a refusal (400, 422, 403) is the fatal-error's issue, and rolls back."""
    assert ctx.uow is not None
    with refusals_rejected(type_):
        ctx.access.require(type_, "c")
        checked = ctx.services.checks.check_resource(type_, resource)
        prepared = ctx.access.prepare(type_, checked)
        stored, _ = await ctx.uow.write(type_, new_id(), prepared, method="POST", minted=True)
        await ctx.access.check_written(stored, "c")
    return stored


async def update(ctx: Context, current: StoredResource, resource: dict[str, Any]) -> StoredResource:
    """A new version of ``current``, as a client's update by id would be (the caller must see
    it and may update it)."""
    assert ctx.uow is not None
    with refusals_rejected(current.type):
        ctx.access.require(current.type, "u")
        if await ctx.access.admit_target(current, "u") is None:
            raise Rejected([Problem(NOT_HERE, "Bundle", code="not-found")])
        checked = ctx.services.checks.check_resource(current.type, resource)
        prepared = ctx.access.prepare(current.type, checked)
        stored, _ = await ctx.uow.write(
            current.type, current.id, prepared, method="PUT", if_match=current.version
        )
        await ctx.access.check_written(stored, "u")
    return stored


@contextmanager
def refusals_rejected(type_: str) -> Iterator[None]:
    """A write's refusal — the R4 definition (400), a profile (422), the caller's access
    (403) — as a fatal-error naming what was refused; conflicts and unavailability stay
    technical (a transient-error: the sender resends)."""
    try:
        yield
    except FhirError as err:
        if err.status not in (400, 403, 404, 422):
            raise
        issue = err.issues[0] if err.issues else None
        where = issue.expression[0] if issue and issue.expression else type_
        raise Rejected(
            [
                Problem(
                    f"The receiver cannot file the message as a {type_}: "
                    + (issue.diagnostics if issue else str(err)),
                    where,
                    (OPERATION_OUTCOME_CODES, "MSG_BAD_FORMAT"),
                    issue.code if issue else "processing",
                )
            ]
        ) from err


def without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy without ``id`` and ``meta``: what the message claimed of its own copy (its MedCom
    profiles, its ids) is not what this server stores."""
    out = deepcopy(resource)
    out.pop("meta", None)
    out.pop("id", None)
    return out
