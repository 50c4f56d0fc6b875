"""``$export`` (FHIR Bulk Data Access 2.0) as operations: the kick-off at the system
(``[base]/$export``), for all patients (``Patient/$export``) and for a Group's patients
(``Group/[id]/$export``); the status request (``$export-poll-status?_jobId=``: 202 with
``Retry-After`` and ``X-Progress`` while it runs, the manifest when done, an OperationOutcome
when it failed; ``DELETE`` cancels it) and the files (``$export-file?_jobId=&_file=``).

Only the requester — the same client and subject — gets to see a job's status or files; to
anyone else a job is unknown (404), as it is once cancelled or expired (docs/bulk-export.md).
"""

from __future__ import annotations

import uuid
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from fhir_server.errors import FhirError, Invalid, Issue, NotFound, NotSupported, outcome_bytes
from fhir_server.export.jobs import COMPLETE, FAILED, Job
from fhir_server.export.request import NDJSON, ExportRequest, level_types, parse_request
from fhir_server.export.runner import Exporter, owner_of
from fhir_server.interactions.common import searcher
from fhir_server.interactions.context import Context, FhirRequest, FhirResult
from fhir_server.operations import Operation
from fhir_server.operations.inputs import Inputs
from fhir_server.search.resolve import build_query
from fhir_server.stored import instant, now_us

BULK = "http://hl7.org/fhir/uv/bulkdata"
CAPABILITY = f"{BULK}/CapabilityStatement/bulk-data"
"""The IG's CapabilityStatement, which this server's ``instantiates``."""
STATUS = "export-poll-status"
FILE = "export-file"
RETRY_AFTER = 2
"""Seconds a client is asked to wait between status requests."""


def _exporter(ctx: Context) -> Exporter:
    exporter = ctx.services.exports.exporter
    if exporter is None:
        raise NotSupported("Bulk export is not running on this server", ["$export"])
    return exporter


def _pairs(inputs: Inputs) -> list[tuple[str, str]]:
    """The kick-off's parameters, from the query or a Parameters body (valueString, valueCode,
    valueInstant… as text)."""
    req = inputs.request
    pairs = [(k, v) for k, v in req.params] if req is not None else []
    for p in inputs.params:
        if not p.get("name") or not any(k.startswith("value") for k in p):
            continue
        value = next(v for k, v in p.items() if k.startswith("value"))
        if (p["name"], str(value)) not in pairs:
            pairs.append((p["name"], str(value)))
    return pairs


async def kick_off(ctx: Context, inputs: Inputs, type_: str | None, id_: str | None) -> FhirResult:
    """Check the request and the caller's access to what it asks for, keep the job and start it;
    202 with the status URL in ``Content-Location``."""
    req = inputs.request
    if (type_ == "Group") != (id_ is not None):  # Patient/$export, Group/[id]/$export only
        where = f"{type_}/{id_}" if id_ is not None else f"{type_}"
        raise NotSupported(f"Operation $export is not supported at {where}", ["$export"])
    if req is None or not req.prefer_async:
        raise Invalid("$export runs asynchronously: send 'Prefer: respond-async'", ["Prefer"])
    level = "group" if type_ == "Group" else "patient" if type_ == "Patient" else "system"
    asked = parse_request(level, _pairs(inputs), req.prefer_handling == "lenient")
    types = _types(ctx, level, asked)
    await _check_filters(ctx, asked)
    exporter = _exporter(ctx)
    members = await _members(ctx, id_) if level == "group" and id_ is not None else None
    job = Job(
        id=uuid.uuid4().hex,
        owner=owner_of(ctx.grant),
        request=_request_url(ctx, req),
        base=ctx.base_url,
        level=level,
        types=types,
        transaction_time=instant(now_us()),
        since=asked.since,
        type_filters=asked.type_filters,
        group=id_,
        members=members,
        held=ctx.grant.held,
    )
    await exporter.submit(job, ctx.grant)
    issues = [Issue("informational", "The export has started", severity="information")]
    issues += [
        Issue("not-supported", f"Ignored parameter {n}", (n,), "warning") for n in asked.ignored
    ]
    return FhirResult(
        202,
        body=outcome_bytes(issues),
        headers={"Content-Location": _status_url(ctx.base_url, job.id)},
    )


def _types(ctx: Context, level: str, asked: ExportRequest) -> list[str]:
    """The types exported: those ``_type`` names (each one the caller must be allowed to
    search: 403 otherwise), else every type of the level the caller may search."""
    if asked.types:
        for type_ in asked.types:
            ctx.access.require(type_, "s")
        return sorted(asked.types)
    types = [t for t in level_types(level) if ctx.access.decide(t, "s").permit]
    if not types:
        ctx.access.require("Resource", "s")
    return types


async def _check_filters(ctx: Context, asked: ExportRequest) -> None:
    """Each ``_typeFilter`` query parses as a search of its type (400 naming ``_typeFilter``
    otherwise), now rather than as a failed job later."""
    for type_, filters in asked.type_filters.items():
        for filter_ in filters:
            try:
                await build_query(
                    searcher(ctx),
                    type_,
                    parse_qsl(filter_, keep_blank_values=True),
                    params=ctx.params,
                    base=ctx.base_url,
                    default_count=1,
                    max_count=1,
                )
            except FhirError as err:
                raise Invalid(f"_typeFilter {type_}?…: {err.diagnostics}", ["_typeFilter"]) from err


async def _members(ctx: Context, group_id: str) -> list[str]:
    """The ids of the Group's active Patient members (the router has checked that the caller
    may see the Group)."""
    stored = await ctx.read("Group", group_id)
    if stored is None or stored.content is None:
        raise NotFound(f"Group/{group_id} is not known", [f"Group/{group_id}"])
    group: dict[str, Any] = orjson.loads(stored.content)
    found: list[str] = []
    for member in group.get("member") or []:
        if not isinstance(member, dict) or member.get("inactive") is True:
            continue
        ref = (member.get("entity") or {}).get("reference")
        if not isinstance(ref, str):
            continue
        ref = ref.removeprefix(ctx.base_url.rstrip("/") + "/")
        kind, _, pid = ref.partition("/")
        if kind == "Patient" and pid and "/" not in pid and pid not in found:
            found.append(pid)
    return found


def _request_url(ctx: Context, req: FhirRequest) -> str:
    path = "/".join(req.path)
    query = urlencode(req.params)
    return f"{ctx.base_url}/{path}" + (f"?{query}" if query else "")


def _status_url(base: str, job_id: str) -> str:
    return f"{base}/${STATUS}?{urlencode({'_jobId': job_id})}"


def _file_url(base: str, job_id: str, name: str) -> str:
    return f"{base}/${FILE}?{urlencode({'_jobId': job_id, '_file': name})}"


async def _own_job(ctx: Context, inputs: Inputs) -> tuple[Exporter, Job]:
    """The job ``_jobId`` names, when it is the caller's; 404 for any other (or none)."""
    req = inputs.request
    job_id = req.param("_jobId") if req is not None else None
    if not job_id:
        raise Invalid("_jobId names the export job", ["_jobId"])
    exporter = _exporter(ctx)
    job = await exporter.jobs.get(job_id)
    if job is None or job.owner != owner_of(ctx.grant):
        raise NotFound("No such export job", ["_jobId"])
    return exporter, job


async def status(ctx: Context, inputs: Inputs, type_: str | None, id_: str | None) -> FhirResult:
    exporter, job = await _own_job(ctx, inputs)
    assert inputs.request is not None
    if inputs.request.method == "DELETE":
        await exporter.cancel(job)
        issue = Issue("informational", "The export was cancelled", severity="information")
        return FhirResult(202, body=outcome_bytes([issue]))
    if job.state == FAILED:
        return FhirResult(500, body=outcome_bytes([Issue("exception", job.error or "failed")]))
    if job.state != COMPLETE:
        done = job.progress.type_index
        written = sum(o.count for o in job.outputs)
        progress = f"{done} of {len(job.types)} types done, {written} resources written"
        return FhirResult(
            202,
            headers={"Retry-After": str(RETRY_AFTER), "X-Progress": progress},
            body=outcome_bytes([Issue("informational", progress, severity="information")]),
        )
    manifest = {
        "transactionTime": job.transaction_time,
        "request": job.request,
        "requiresAccessToken": True,
        "output": [
            {"type": o.type, "url": _file_url(job.base, job.id, o.file), "count": o.count}
            for o in job.outputs
        ],
        "error": [],
    }
    headers = {"Expires": formatdate(job.expires, usegmt=True)} if job.expires else {}
    return FhirResult(200, body=orjson.dumps(manifest), headers=headers, media="application/json")


async def download(ctx: Context, inputs: Inputs, type_: str | None, id_: str | None) -> FhirResult:
    exporter, job = await _own_job(ctx, inputs)
    assert inputs.request is not None
    name = inputs.request.param("_file") or ""
    path = exporter.file(job, name) if job.state == COMPLETE else None
    if path is None:
        raise NotFound("No such file in this export", ["_file"])
    return FhirResult(200, file=str(path), media=NDJSON)


EXPORT = Operation(
    "export",
    frozenset({"system", "type", "instance"}),
    frozenset({"Patient", "Group"}),
    kick_off,
    definition=f"{BULK}/OperationDefinition/export",
    scope_letters="rs",
    type_definitions=(
        ("Patient", f"{BULK}/OperationDefinition/patient-export"),
        ("Group", f"{BULK}/OperationDefinition/group-export"),
    ),
    instantiates=CAPABILITY,
)
"""``[base]/$export``, ``Patient/$export``, ``Group/[id]/$export``."""

POLL_STATUS = Operation(
    STATUS,
    frozenset({"system"}),
    None,
    status,
    methods=frozenset({"GET", "DELETE"}),
    declared=False,
)
"""The status of an export (GET), or its cancellation (DELETE)."""

EXPORT_FILE = Operation(
    FILE,
    frozenset({"system"}),
    None,
    download,
    methods=frozenset({"GET"}),
    declared=False,
)
"""One file of a finished export, streamed from disk."""

OPERATIONS = (EXPORT, POLL_STATUS, EXPORT_FILE)
