"""The subscription topics this server offers. R4 has no SubscriptionTopic resource: the
backport IG names a topic by its canonical URL (``Subscription.criteria``) and the server
declares the ones it offers in its CapabilityStatement
(``capabilitystatement-subscriptiontopic-canonical``). Each topic is a resource type, a
trigger (which changes of it are events) and the filters a subscriber may narrow it with
(``backport-filter-criteria``: ``Type?name=value&…``, a comma for any of several values)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TOPIC_BASE = "urn:fhir-server:subscription-topic:"

Doc = dict[str, Any] | None
"""A version's content; None: no version (a create's before, a deletion's after)."""


def _refs(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(i["reference"]) for i in items if isinstance(i, dict) and "reference" in i]


def _path(*names: str) -> Callable[[dict[str, Any]], list[str]]:
    """The references at ``names`` (one level each, lists flattened)."""

    def get(doc: dict[str, Any]) -> list[str]:
        values: list[Any] = [doc]
        for name in names:
            nxt: list[Any] = []
            for v in values:
                got = v.get(name) if isinstance(v, dict) else None
                nxt.extend(got if isinstance(got, list) else [got] if got is not None else [])
            values = nxt
        return [r for v in values for r in _refs(v)]

    return get


def _code(name: str) -> Callable[[dict[str, Any]], list[str]]:
    def get(doc: dict[str, Any]) -> list[str]:
        value = doc.get(name)
        if isinstance(value, dict):  # Encounter.class: a Coding
            return [str(value.get("code"))]
        return [str(value)] if value is not None else []

    return get


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    title: str
    type: str
    trigger: Callable[[Doc, Doc], bool]
    """Whether a change from ``before`` to ``after`` is an event of this topic."""
    filters: dict[str, Callable[[dict[str, Any]], list[str]]]
    """Filter name → the values a resource has for it (references as ``Type/id``)."""

    @property
    def url(self) -> str:
        return TOPIC_BASE + self.name


def _any_change(before: Doc, after: Doc) -> bool:
    return before is not None or after is not None


def _created(before: Doc, after: Doc) -> bool:
    return before is None and after is not None


def _written(before: Doc, after: Doc) -> bool:
    return after is not None


def _encounter_moved(before: Doc, after: Doc) -> bool:
    """Admitted, on leave, discharged: a new Encounter, or one whose status or class changed."""
    if after is None:
        return False
    if before is None:
        return True
    return before.get("status") != after.get("status") or before.get("class") != after.get("class")


TOPICS: dict[str, Topic] = {
    t.url: t
    for t in (
        Topic(
            "careplan-changed",
            "A citizen's care plan was created, changed or deleted",
            "CarePlan",
            _any_change,
            {"patient": _path("subject"), "status": _code("status")},
        ),
        Topic(
            "servicerequest-for-performer",
            "A ServiceRequest was created or changed (for a performer organization)",
            "ServiceRequest",
            _written,
            {"performer": _path("performer"), "patient": _path("subject")},
        ),
        Topic(
            "task-owner",
            "A Task was created or changed (assigned to an owner organization)",
            "Task",
            _written,
            {"owner": _path("owner"), "patient": _path("for"), "status": _code("status")},
        ),
        Topic(
            "encounter-admission",
            "A citizen was admitted, went on leave or was discharged (Encounter status or class)",
            "Encounter",
            _encounter_moved,
            {
                "patient": _path("subject"),
                "status": _code("status"),
                "class": _code("class"),
                "service-provider": _path("serviceProvider"),
            },
        ),
        Topic(
            "communication-for-recipient",
            "A new Communication (for a recipient organization)",
            "Communication",
            _created,
            {"recipient": _path("recipient"), "patient": _path("subject")},
        ),
        Topic(
            "medicationstatement-changed",
            "A citizen's MedicationStatement was created, changed or deleted",
            "MedicationStatement",
            _any_change,
            {"patient": _path("subject"), "status": _code("status")},
        ),
    )
}
"""Every topic by canonical URL."""

TOPIC_TYPES: frozenset[str] = frozenset(t.type for t in TOPICS.values())
"""The types whose changes the store journals (`Store.journal_changes`)."""


def matches(topic: Topic, filters: dict[str, list[str]], doc: dict[str, Any]) -> bool:
    """Whether ``doc`` (the version an event is about) passes every filter (any of its values)."""
    for name, wanted in filters.items():
        have = topic.filters[name](doc)
        if not any(_same(h, w) for h in have for w in wanted):
            return False
    return True


def _same(have: str, wanted: str) -> bool:
    """A reference filter matches by ``Type/id`` whatever base an absolute one names."""
    return have == wanted or have.endswith("/" + wanted) or wanted.endswith("/" + have)
