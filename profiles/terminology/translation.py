"""``ConceptMap/$translate`` (R4): a code looked up in a ConceptMap's groups, forwards (source →
target) or reversed (target → source). Pure functions over the map's JSON, so a bundled map and
a stored one translate alike.

Not supported: ``dependsOn``/``product`` (none of the served maps uses them; matches carry no
products) and ``group.unmapped`` (a code the map does not list is not matched).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Resource = dict[str, Any]

# R4 concept-map-equivalence: reading a mapping backwards turns these around
_REVERSED = {"wider": "narrower", "narrower": "wider", "subsumes": "specializes",
             "specializes": "subsumes"}  # fmt: skip
NO_MATCH = frozenset({"unmatched", "disjoint"})


@dataclass(frozen=True, slots=True)
class Match:
    equivalence: str
    system: str | None
    code: str
    display: str | None
    source: str | None
    """The canonical URL of the ConceptMap the match comes from."""

    def to_parameter(self) -> Resource:
        concept: Resource = {"code": self.code}
        if self.system:
            concept = {"system": self.system, **concept}
        if self.display:
            concept["display"] = self.display
        parts: list[Resource] = [
            {"name": "equivalence", "valueCode": self.equivalence},
            {"name": "concept", "valueCoding": concept},
        ]
        if self.source:
            parts.append({"name": "source", "valueUri": self.source})
        return {"name": "match", "part": parts}


def translate(
    concept_map: Resource,
    code: str,
    system: str | None,
    target_system: str | None = None,
    reverse: bool = False,
) -> list[Match]:
    """Every mapping of ``code`` (in ``system``) in ``concept_map``; with ``reverse`` the code is
    looked up among the targets and the source codes are returned."""
    url = concept_map.get("url") if isinstance(concept_map.get("url"), str) else None
    out: list[Match] = []
    for group in _list(concept_map.get("group")):
        source_system, to_system = group.get("source"), group.get("target")
        if reverse:
            source_system, to_system = to_system, source_system
        if system is not None and source_system not in (None, system):
            continue
        if target_system is not None and to_system not in (None, target_system):
            continue
        for element in _list(group.get("element")):
            for target in _list(element.get("target")):
                out += _match(element, target, code, to_system, url, reverse)
    return out


def _match(
    element: Resource,
    target: Resource,
    code: str,
    to_system: str | None,
    url: str | None,
    reverse: bool,
) -> list[Match]:
    equivalence = target.get("equivalence")
    if not isinstance(equivalence, str):
        return []
    if not reverse and element.get("code") == code:
        found = target
    elif reverse and target.get("code") == code:
        found, equivalence = element, _REVERSED.get(equivalence, equivalence)
    else:
        return []
    if not isinstance(found.get("code"), str):
        return []  # an unmatched source code has a target without a code
    return [Match(equivalence, to_system, found["code"], found.get("display"), url)]


def translation_result(matches: Iterable[Match]) -> Resource:
    """The ``$translate`` answer: ``result`` (a match that is not unmatched or disjoint),
    ``message`` when there is none, and the matches."""
    matches = list(matches)
    ok = any(m.equivalence not in NO_MATCH for m in matches)
    params: list[Resource] = [{"name": "result", "valueBoolean": ok}]
    if not ok:
        params.append({"name": "message", "valueString": "No mapping found for the code"})
    params += [m.to_parameter() for m in matches]
    return {"resourceType": "Parameters", "parameter": params}


def maps_between(
    concept_maps: Iterable[Resource], source: str | None, target: str | None
) -> list[Resource]:
    """The maps whose source and target ValueSets are the given ones (either may be None)."""
    out = []
    for cm in concept_maps:
        from_vs = cm.get("sourceUri") or cm.get("sourceCanonical")
        to_vs = cm.get("targetUri") or cm.get("targetCanonical")
        if source is not None and _plain(from_vs) != _plain(source):
            continue
        if target is not None and _plain(to_vs) != _plain(target):
            continue
        out.append(cm)
    return out


def _plain(url: Any) -> str | None:
    return url.partition("|")[0] if isinstance(url, str) else None


def _list(value: Any) -> list[Resource]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
