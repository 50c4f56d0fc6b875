"""Referential integrity on write (``FHIR_REFERENTIAL_INTEGRITY``, on by default, as HAPI).

Checked once per unit of work, after its last write and before its commit (`Context.write`),
over what it changed (`UnitOfWork.changed`), so a transaction's entries may reference each other
in any order and a refusal leaves nothing written:

- every local reference of every resource written — a relative ``Type/id`` (a version-specific
  one too) or an absolute URL under this server's base, anywhere in the resource, contained
  resources included — must name a resource that exists, is not deleted and that the writer may
  read: one existence look-up for all of them (`UnitOfWork.live`). Otherwise 400
  (``processing``) naming each element (``CarePlan.subject``). Contained (``#x``), logical
  (identifier only), ``urn:`` and other servers' references, and canonicals (not References)
  are not checked; a conditional reference or ``urn:uuid:`` in a transaction has been resolved
  to ``Type/id`` before, and is checked as such.
- a resource deleted must not be referenced by the current version of another (the search
  index's reference entries, `UnitOfWork.referrers`: past versions reference nothing, as in
  HAPI, whose check reads its current-version link table). Otherwise 409 naming the first few.

AuditEvents (`RECORDS`) are records of what happened, written by the server: neither checked
nor counted as referrers. A stored Bundle's references (a MedCom message's) resolve within it,
not here: not checked (`UNCHECKED`).

Existence is no secret the check may tell: a patient's resource the writer may not read is
answered exactly as an absent one (but for what the server itself linked the write to,
`Context.vouched`) (docs/security.md, "Referential integrity and existence"); a
patient's resource the caller may not read is not named as a referrer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_server.access import VISIBLE
from fhir_server.compartment import has_compartment
from fhir_server.errors import MAX_ISSUES, Issue, StillReferenced, UnresolvedReference
from fhir_server.references import local_reference, path_to, reference_holders
from fhir_server.resource_types import SERVED_TYPES
from fhir_server.store.base import Referrer, UnitOfWork

if TYPE_CHECKING:
    from fhir_server.interactions.context import Context

NAMED_REFERRERS = 5
"""Referrers a refused delete names (then "and more")."""
_REFERRERS_ASKED = 50
"""Referrers looked up per refused delete: more than it names, since those the caller may not
read and other servers' absolute URLs are left out."""

Key = tuple[str, str]

RECORDS = frozenset({"AuditEvent"})
"""Types that record what happened, written by the server (the audit joins a write's unit of
work): they name what has been deleted since — a delete's own record names it — so their
references are not checked, and they never keep a resource from being deleted."""

UNCHECKED = RECORDS | {"Bundle"}
"""Types whose references are not checked on write: `RECORDS`, and Bundles (a MedCom message
received or sent, kept as it is), whose entries' references resolve within the Bundle against
its fullUrls, relative to the server that made it (bundle.html#references), not against this
one."""


async def check_unit(ctx: Context, uow: UnitOfWork) -> None:
    """Raise `UnresolvedReference` or `StillReferenced` if what ``uow`` changed breaks
    referential integrity (see the module)."""
    changed = uow.changed
    if not changed:
        return
    await _check_targets(ctx, uow, changed)
    deleted = [key for key, resource in changed.items() if resource is None]
    if deleted:
        await _check_referrers(ctx, uow, deleted)


async def _check_targets(ctx: Context, uow: UnitOfWork, changed: dict[Key, Any]) -> None:
    cited: dict[Key, list[tuple[Key, dict[str, Any], dict[str, Any]]]] = {}
    read: dict[str, Key | None] = {}  # reference text → what it names (most repeat)
    for source, resource in changed.items():
        if resource is None or source[0] in UNCHECKED:
            continue
        for holder in reference_holders(resource):
            text = holder["reference"]
            if text in read:
                target = read[text]
            else:
                target = read[text] = local_reference(holder, ctx.base_url)
            if target is not None:
                cited.setdefault(target, []).append((source, resource, holder))
    if not cited:
        return
    found = await uow.live(cited.keys())
    missing = [key for key in cited if key not in found]
    access = ctx.access
    if not access.unrestricted:
        # a patient's data the writer may not read is answered as absent; what this unit of
        # work wrote itself the write rules judged already
        reader = access.reader(VISIBLE)
        for key in cited:
            judged = (
                key in found
                and key not in changed
                and key not in ctx.vouched
                and _secret(ctx, key[0])
            )
            if judged and await reader(*key) is None:
                missing.append(key)
    if missing:  # in the body's order, so the order tells hidden from absent no more
        gone = set(missing)
        raise _unresolved([key for key in cited if key in gone], cited)


def _unresolved(
    missing: list[Key], cited: dict[Key, list[tuple[Key, dict[str, Any], dict[str, Any]]]]
) -> UnresolvedReference:
    issues: list[Issue] = []
    sources: list[Key] = []
    for key in missing:
        for source, resource, holder in cited[key]:
            at = f"{source[0]}{path_to(resource, holder) or ''}"
            text = holder["reference"]
            issues.append(
                Issue(
                    "processing",
                    f"{at}: the reference {text!r} names no resource on this server that the"
                    " writer may reference (it does not exist, is deleted or may not be read"
                    " by the writer)",
                    (at,),
                )
            )
            sources.append(source)
            if len(issues) > MAX_ISSUES:
                break
    return UnresolvedReference(issues[0].diagnostics, issues=issues, sources=sources)


def referring_params(ctx: Context, target_type: str) -> list[tuple[str, str]]:
    """(source type, parameter) of every reference parameter that may name a ``target_type``:
    where the search index keeps references to it."""
    out = []
    for type_ in sorted(SERVED_TYPES - RECORDS):
        for name, param in ctx.params.params_for(type_).items():
            if param.type == "reference" and (not param.targets or target_type in param.targets):
                out.append((type_, name))
    return out


async def _check_referrers(ctx: Context, uow: UnitOfWork, deleted: list[Key]) -> None:
    issues: list[Issue] = []
    targets: list[Key] = []
    for target in deleted:
        params = referring_params(ctx, target[0])
        found = await uow.referrers([target], params, _REFERRERS_ASKED)
        local = [r for r in found if _is_local(ctx, r)]
        if not local:
            continue
        named = await _nameable(ctx, local)
        issues.append(_still_referenced(target, named, hidden=len(named) < len(local)))
        targets.append(target)
    if issues:
        raise StillReferenced(issues[0].diagnostics, issues=issues, targets=targets)


def _is_local(ctx: Context, r: Referrer) -> bool:
    """A reference row of an absolute URL is a reference to this server's resource only under
    its base (the index reads type and id out of any URL)."""
    return not r.url or local_reference({"reference": r.url}, ctx.base_url) == r.target


async def _nameable(ctx: Context, found: list[Referrer]) -> list[Referrer]:
    """The referrers the caller may read: only they are named (one it may not read is no
    business of its)."""
    if ctx.access.unrestricted:
        return found
    read = ctx.access.reader(VISIBLE)
    return [r for r in found if not _secret(ctx, r.type) or await read(r.type, r.id) is not None]


def _secret(ctx: Context, type_: str) -> bool:
    """Whether the existence of a ``type_`` resource may be hidden from the caller: a patient's
    data (a type with a patient compartment) of which it does not see every one. The directory
    and shared types (Organization, Practitioner, Medication, …) are no citizen's secret: a
    MedCom partner's backend files a message naming this server's Organizations without a
    scope to read them (docs/security.md). Nor is a Patient judged so: which patient a write
    may be about the write rules decide (`Access.check_written`: a citizen's token only its
    own), and a write-only token (``patient/Observation.c``) must name its patient."""
    return type_ != "Patient" and has_compartment(type_) and not ctx.access.sees_every(type_)


def _still_referenced(target: Key, named: list[Referrer], hidden: bool) -> Issue:
    ref = "/".join(target)
    seen: dict[str, str] = {}
    for r in named:
        seen.setdefault(f"{r.type}/{r.id}", f"{r.type}/{r.id} ({r.param})")
    names = list(seen.values())
    shown = ", ".join(names[:NAMED_REFERRERS])
    if len(names) > NAMED_REFERRERS or (hidden and names):
        shown += " and others"
    elif hidden:
        shown = "resources"
    return Issue(
        "processing",
        f"{ref} cannot be deleted: it is referenced by {shown}; change or delete"
        f" {'them' if len(names) != 1 or hidden else 'it'} first (referential integrity)",
        (ref,),
    )
