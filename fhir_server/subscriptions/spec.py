"""A Subscription's settings as the backport profile (``backport-subscription``) puts them in an
R4 Subscription, read once (`Spec.of`), and the checks a written Subscription must pass
(`check`: a 400 naming the element)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fhir_server.errors import Invalid
from fhir_server.subscriptions.topics import TOPICS, Topic

IG = "http://hl7.org/fhir/uv/subscriptions-backport"
PROFILE = f"{IG}/StructureDefinition/backport-subscription"
FILTER_CRITERIA = f"{IG}/StructureDefinition/backport-filter-criteria"
PAYLOAD_CONTENT = f"{IG}/StructureDefinition/backport-payload-content"
HEARTBEAT_PERIOD = f"{IG}/StructureDefinition/backport-heartbeat-period"
TIMEOUT = f"{IG}/StructureDefinition/backport-timeout"
MAX_COUNT = f"{IG}/StructureDefinition/backport-max-count"
OWNER = "urn:fhir-server:subscription-owner"
"""Extension the server sets on every Subscription written by an authorized caller (never the
caller): who it was, so delivery reads as they may (`fhir_server.access.Grant.owner`). As a
``meta.tag`` code too: a hash of it, what a caller's searches of Subscriptions are narrowed by."""
CHANNELS = ("rest-hook", "websocket")
CONTENTS = ("empty", "id-only", "full-resource")
MAX_PER_NOTIFICATION = 100


def _ext(element: dict[str, Any] | None, url: str) -> Any:
    for e in (element or {}).get("extension", []):
        if isinstance(e, dict) and e.get("url") == url:
            return next((v for k, v in e.items() if k.startswith("value")), None)
    return None


@dataclass(frozen=True, slots=True)
class Spec:
    id: str
    status: str
    topic: Topic
    filters: dict[str, list[str]]
    channel: str
    endpoint: str | None
    headers: tuple[tuple[str, str], ...]
    content: str
    heartbeat: int | None
    """Seconds between heartbeats when nothing else was sent (None: none)."""
    timeout: float
    max_count: int
    owner: dict[str, str] = field(default_factory=dict)
    """The owner's identity as the server recorded it (`OWNER`); empty: unrestricted."""

    @classmethod
    def of(cls, resource: dict[str, Any]) -> Spec:
        """The settings of a stored Subscription (checked when written: `check`)."""
        channel = resource.get("channel") or {}
        criteria = resource.get("_criteria")
        filters: dict[str, list[str]] = {}
        for text in _filter_texts(criteria):
            for name, value in parse_qsl(urlsplit(text).query, keep_blank_values=True):
                filters.setdefault(name, []).extend(v for v in value.split(",") if v)
        headers = []
        for h in channel.get("header", []):
            name, sep, value = str(h).partition(":")
            if sep:
                headers.append((name.strip(), value.strip()))
        payload = channel.get("_payload")
        return cls(
            id=str(resource.get("id")),
            status=str(resource.get("status")),
            topic=TOPICS[str(resource.get("criteria"))],
            filters=filters,
            channel=str(channel.get("type")),
            endpoint=channel.get("endpoint"),
            headers=tuple(headers),
            content=str(_ext(payload, PAYLOAD_CONTENT) or "id-only"),
            heartbeat=_ext(channel, HEARTBEAT_PERIOD),
            timeout=float(_ext(channel, TIMEOUT) or 10),
            max_count=int(_ext(channel, MAX_COUNT) or MAX_PER_NOTIFICATION),
            owner=_owner(resource),
        )


def _owner(resource: dict[str, Any]) -> dict[str, str]:
    for e in resource.get("extension", []):
        if isinstance(e, dict) and e.get("url") == OWNER:
            return {
                str(p.get("url")): str(p.get("valueString"))
                for p in e.get("extension", [])
                if isinstance(p, dict) and "valueString" in p
            }
    return {}


def _filter_texts(criteria: Any) -> list[str]:
    out = []
    for e in (criteria or {}).get("extension", []) if isinstance(criteria, dict) else []:
        if isinstance(e, dict) and e.get("url") == FILTER_CRITERIA:
            out.append(str(e.get("valueString", "")))
    return out


def check(resource: dict[str, Any]) -> None:
    """A Subscription this server can serve: a topic it offers, filters that topic knows, a
    channel it speaks (rest-hook needs an http(s) endpoint), a payload content code. Else 400
    naming the element."""
    criteria = resource.get("criteria")
    topic = TOPICS.get(str(criteria))
    if topic is None:
        offered = ", ".join(sorted(TOPICS))
        raise Invalid(
            f"Subscription.criteria must be the canonical URL of a topic this server offers"
            f" ({offered})",
            ["Subscription.criteria"],
        )
    for text in _filter_texts(resource.get("_criteria")):
        parts = urlsplit(text)
        where = "Subscription.criteria.extension('backport-filter-criteria')"
        if parts.path and parts.path != topic.type:
            raise Invalid(
                f"A filter of topic {topic.name} is on {topic.type}, not {parts.path}", [where]
            )
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name not in topic.filters:
                known = ", ".join(sorted(topic.filters))
                raise Invalid(
                    f"Topic {topic.name} has no filter {name!r} (it has: {known})", [where]
                )
            if not value:
                raise Invalid(f"Filter {name!r} needs a value", [where])
    channel = resource.get("channel") or {}
    kind = channel.get("type")
    if kind not in CHANNELS:
        raise Invalid(
            f"Subscription.channel.type must be one of {', '.join(CHANNELS)}",
            ["Subscription.channel.type"],
        )
    endpoint = channel.get("endpoint")
    if kind == "rest-hook" and not (
        isinstance(endpoint, str) and urlsplit(endpoint).scheme in ("http", "https")
    ):
        raise Invalid(
            "A rest-hook Subscription needs an http(s) Subscription.channel.endpoint",
            ["Subscription.channel.endpoint"],
        )
    for h in channel.get("header", []):
        if ":" not in str(h):
            raise Invalid("A channel header is 'Name: value'", ["Subscription.channel.header"])
    content = _ext(channel.get("_payload"), PAYLOAD_CONTENT)
    if content is not None and content not in CONTENTS:
        raise Invalid(
            f"The payload content must be one of {', '.join(CONTENTS)}",
            ["Subscription.channel.payload"],
        )
