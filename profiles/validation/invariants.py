"""Invariants (ElementDefinition.constraint) compiled once, a few of them natively.

- ``ele-1`` (every element has a value or children) is checked by the walker itself, which sees
  every element anyway: an empty object, an empty array or ``null`` is reported as structure.
- ``dom-3`` (every contained resource is referenced) needs ``descendants()`` over the whole
  resource and ``as(canonical)``; natively it is one scan for ``#id`` strings, and only when
  there are contained resources.
- ``txt-1``/``txt-2`` are both written ``htmlChecks()`` in R4; natively they are the two checks in
  :mod:`profiles.validation.narrative`.
- ``ref-1`` (a ``#id`` reference finds its contained resource) and ``dom-6`` (narrative present)
  are one-liners natively; they run for every Reference and every resource.
- ``medcom-messaging-bundled`` (every reference in a MedCom message resolves to one of its
  entries) walks ``descendants()`` of every entry and filters each through ``where()``: the
  costliest rule of a message; natively it is the same walk and the same ``resolve()``, and it
  hands anything but a plain string ``reference`` back to the FHIRPath expression (a native
  returning None defers; such natives keep their compiled expression).
- ``bdl-3``/``bdl-4`` (an entry has ``request``/``response`` exactly when the Bundle's type
  calls for it) are a FHIRPath ``all()`` over the entries; natively one loop, deferring to the
  expression on anything but plain objects and a string type.
- GUARDS lists R4 invariants that hold trivially when a property is absent (``per-1`` without
  ``start`` or ``end``); the walker then skips them.
Everything else goes through :class:`FhirPathEngine` (compiled closures, fhirpathpy fallback).
Natives apply only when key *and* expression are the R4 ones, so a profile reusing a key with a
different expression gets its own expression evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from profiles.validation.fhirpath import FhirPathEngine, UserFunction
from profiles.validation.fhirpath.functions import descendants_of
from profiles.validation.fhirpath.navigation import resolve_in
from profiles.validation.narrative import has_content, xhtml_problem
from profiles.validation.rules import Invariant

if TYPE_CHECKING:
    from profiles.validation.context import Context

STRUCTURAL = frozenset({"ele-1"})


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _contained_referenced(resource: Any, ctx: Context) -> bool:
    contained = resource.get("contained") if isinstance(resource, dict) else None
    if not contained or not isinstance(contained, list):
        return True  # not an array: the structure check reports it
    found = set(_strings({k: v for k, v in resource.items() if k != "contained"}))
    for item in contained:
        found.update(_strings(item))
    for item in contained:
        if not isinstance(item, dict) or "id" not in item:
            continue
        if f"#{item['id']}" not in found and "#" not in set(_strings(item)):
            return False
    return True


def _local_reference_resolves(reference: Any, ctx: Context) -> bool:
    """ref-1; ``#`` alone points at the containing resource (references.html#contained)."""
    ref = reference.get("reference") if isinstance(reference, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#") or ref == "#":
        return True
    contained = ctx.root.get("contained") if isinstance(ctx.root, dict) else None
    if not isinstance(contained, list):
        return False
    return any(isinstance(c, dict) and c.get("id") == ref[1:] for c in contained)


def _has_narrative(resource: Any, ctx: Context) -> bool:
    """dom-6; contained resources have no narrative of their own (narrative.html)."""
    if ctx.resource is not ctx.root:
        return True
    text = resource.get("text") if isinstance(resource, dict) else None
    return isinstance(text, dict) and ("div" in text or "_div" in text)


def _narrative_valid(div: Any, ctx: Context) -> bool | str:
    problem = xhtml_problem(div) if isinstance(div, str) else None
    return problem or True


def _narrative_has_content(div: Any, ctx: Context) -> bool:
    return not isinstance(div, str) or has_content(div)


def _resolves(item: Any, root: Any) -> bool:
    return resolve_in(item, root) is not None


def _message_bundled(bundle: Any, ctx: Context) -> bool | None:
    """``medcom-messaging-bundled`` (`MEDCOM_BUNDLED`), or None to let the expression decide
    (a ``reference`` that is not a string: the expression's own verdict or error stands)."""
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    if not isinstance(entries, list):
        return None
    resources = [e["resource"] for e in entries if isinstance(e, dict) and "resource" in e]
    if any(
        not isinstance(r, dict) or not isinstance(r.get("resourceType"), str) for r in resources
    ):
        return None
    others = [r for r in resources if r.get("resourceType") != "Provenance"]
    references = []
    for item in descendants_of(others):
        if not isinstance(item, dict):
            continue
        ref = item.get("reference")
        if ref is None:
            if "_reference" in item:
                return None
            continue
        if not isinstance(ref, str):
            return None  # the expression's startsWith() fails on it: its error stands
        if not ref.startswith("#"):
            references.append(item)
    if not all(_resolves(item, ctx.root) for item in references):
        return False
    for provenance in resources:
        if provenance.get("resourceType") != "Provenance":
            continue
        targets, agents = provenance.get("target"), provenance.get("agent")
        targets = targets if isinstance(targets, list) else [targets]
        if not any(_resolves(t, ctx.root) for t in targets if t is not None):
            continue
        agents = agents if isinstance(agents, list) else [agents]
        for agent in agents:
            if not isinstance(agent, dict):
                continue
            if "_who" in agent or isinstance(agent.get("who"), list):
                return None
            if agent.get("who") is not None and not _resolves(agent["who"], ctx.root):
                return False
    return True


def _entry_part_matches_type(
    part: str, types: frozenset[str]
) -> Callable[[Any, Context], bool | None]:
    """bdl-3 (``part`` request) and bdl-4 (response): every entry has ``part`` exactly when
    ``%resource.type`` is one of ``types``; None (defer) unless it is that plain."""

    def check(bundle: Any, ctx: Context) -> bool | None:
        kind = ctx.resource.get("type") if isinstance(ctx.resource, dict) else None
        entries = bundle.get("entry") if isinstance(bundle, dict) else None
        if not isinstance(kind, str) or "_type" in ctx.resource:
            return None
        if entries is None and "_entry" not in bundle:
            return True
        if not isinstance(entries, list):
            return None
        wanted = kind in types
        for entry in entries:
            if not isinstance(entry, dict) or "_" + part in entry:
                return None
            value = entry.get(part)
            if isinstance(value, list):
                return None
            if (value is not None) != wanted:
                return False
        return True

    return check


DOM_3 = (
    "contained.where((('#'+id in (%resource.descendants().reference | "
    "%resource.descendants().as(canonical) | %resource.descendants().as(uri) | "
    "%resource.descendants().as(url))) or descendants().where(reference = '#').exists() or "
    "descendants().where(as(canonical) = '#').exists() or "
    "descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()"
)
REF_1 = (
    "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
    "%rootResource.contained.id.trace('ids'))"
)
BDL_3 = (
    "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' "
    "or %resource.type = 'history'))"
)
BDL_4 = (
    "entry.all(response.exists() = (%resource.type = 'batch-response' or "
    "%resource.type = 'transaction-response' or %resource.type = 'history'))"
)
MEDCOM_BUNDLED = (
    "entry.resource.where(is(Provenance).not()).descendants()"
    ".where(reference.exists() and reference.startsWith('#').not()).all(resolve().exists()) "
    "and entry.resource.ofType(Provenance).where(target.resolve().exists()).agent.who"
    ".all(resolve().exists())"
)
"""MedCom Messaging's rule as profiles/src/medcom_messaging.py writes it (a test keeps the two
equal)."""
# A native check returns True when the invariant holds, else False or the reason it fails;
# None (only the natives in DEFERRING) leaves the verdict to the compiled expression.
NATIVE: dict[tuple[str, str], Callable[[Any, Context], bool | str | None]] = {
    ("medcom-messaging-bundled", MEDCOM_BUNDLED): _message_bundled,
    ("bdl-3", BDL_3): _entry_part_matches_type(
        "request", frozenset({"batch", "transaction", "history"})
    ),
    ("bdl-4", BDL_4): _entry_part_matches_type(
        "response", frozenset({"batch-response", "transaction-response", "history"})
    ),
    ("dom-3", DOM_3): _contained_referenced,
    ("dom-6", "text.`div`.exists()"): _has_narrative,
    ("ref-1", REF_1): _local_reference_resolves,
    ("txt-1", "htmlChecks()"): _narrative_valid,
    ("txt-2", "htmlChecks()"): _narrative_has_content,
}

DEFERRING = frozenset(
    {("medcom-messaging-bundled", MEDCOM_BUNDLED), ("bdl-3", BDL_3), ("bdl-4", BDL_4)}
)


# R4 invariants that hold whenever one of these properties is absent: skipping the evaluation
# then changes no verdict, and they sit on the most common data types and every resource.
GUARDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("dom-2", "contained.contained.empty()"): ("contained",),
    (
        "dom-4",
        "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
    ): ("contained",),
    ("dom-5", "contained.meta.security.empty()"): ("contained",),
    (
        "per-1",
        "start.hasValue().not() or end.hasValue().not() or (start <= end)",
    ): ("start", "end"),
    ("cpt-2", "value.empty() or system.exists()"): ("value",),
    ("qty-3", "code.empty() or system.exists()"): ("code",),
    ("rng-2", "low.empty() or high.empty() or (low <= high)"): ("low", "high"),
    ("att-1", "data.empty() or contentType.exists()"): ("data",),
}


def _html_checks(items: list[Any]) -> list[bool]:
    if not items:
        return []
    return [all(isinstance(i, str) and xhtml_problem(i) is None and has_content(i) for i in items)]


HTML_CHECKS = UserFunction(_html_checks, (0,))


def compile_invariants(
    constraints: list[dict[str, Any]],
    engine: FhirPathEngine,
    base: str | None,
    profile: str | None,
    skip: frozenset[str] = frozenset(),
) -> tuple[Invariant, ...]:
    """Invariants for ``constraints`` minus ``skip`` keys (already checked elsewhere).
    ``base`` is the focus type for the fhirpathpy fallback."""
    out = []
    for c in constraints:
        key, expression = c.get("key", ""), c.get("expression")
        if key in STRUCTURAL or key in skip or not expression:
            continue
        severity = "warning" if c.get("severity") == "warning" else "error"
        native = NATIVE.get((key, expression))
        invariant = Invariant(key, severity, c.get("human", key), profile, native=native)
        invariant.guard = GUARDS.get((key, expression), ())
        if native is None or (key, expression) in DEFERRING:
            invariant.expression = engine.compile(expression, base)
        out.append(invariant)
    return tuple(out)
