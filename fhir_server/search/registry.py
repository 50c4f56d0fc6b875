"""Which search parameters each served type supports: the R4 definitions generated from the spec
(`definitions/r4_search_parameters.json`, see scripts/generate_search_parameters.py).

A parameter whose type the server cannot search (special, or a composite of a shape the index has
no room for) is not listed, so it is refused as unknown instead of being silently ignored, and the
CapabilityStatement never claims it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

import orjson

SUPPORTED = frozenset({"token", "string", "date", "number", "quantity", "reference", "uri"})

COMPOSITE_SECONDS = frozenset({"token", "string", "date", "number", "quantity", "uri"})
"""What the second component of a composite may be: the composite index row holds one token (the
first component) and one value of these types (see `params/composite.py`)."""


@dataclass(frozen=True, slots=True)
class Component:
    """One part of a composite parameter: its own search type, and its expression relative to
    the element the composite's expression selects (``code`` of an ``Observation.component``)."""

    name: str
    type: str
    expression: str


@dataclass(frozen=True, slots=True)
class SearchParam:
    name: str
    type: str
    """The spec's search type (token, string, …); ``id`` for ``_id``."""
    expression: str | None
    targets: tuple[str, ...]
    url: str
    components: tuple[Component, ...] = ()

    @property
    def kind(self) -> str:
        return self.type


@cache
def _definitions() -> dict[str, Any]:
    raw = resources.files("fhir_server.search").joinpath("definitions/r4_search_parameters.json")
    return orjson.loads(raw.read_bytes())["resources"]


def _param(type_: str, d: dict[str, Any]) -> SearchParam:
    expression = d.get("expression")
    if isinstance(expression, str) and expression.startswith(("Resource.", "DomainResource.")):
        expression = f"{type_}.{expression.split('.', 1)[1]}"
    kind = "id" if d["name"] == "_id" else d["type"]
    components = tuple(
        Component(c["name"], c["type"], c["expression"]) for c in d.get("component", ())
    )
    return SearchParam(
        d["name"], kind, expression, tuple(d.get("target", ())), d["url"], components
    )


def _searchable(p: SearchParam) -> bool:
    if p.type == "id":
        return True
    if p.type == "composite":
        return (
            bool(p.expression)
            and len(p.components) == 2
            and p.components[0].type == "token"
            and p.components[1].type in COMPOSITE_SECONDS
        )
    return p.type in SUPPORTED and bool(p.expression)


@cache
def builtin_params(type_: str) -> dict[str, SearchParam]:
    """The R4 specification's parameters of ``type_`` that the server can search."""
    out = {}
    for name, d in _definitions().get(type_, {}).items():
        p = _param(type_, d)
        if _searchable(p):
            out[name] = p
    return out


class KnownParameters(Protocol):
    """What searching, indexing and the CapabilityStatement ask of a server's parameters."""

    def params_for(self, type_: str) -> dict[str, SearchParam]: ...

    def on_change(self, listener: Callable[[], None]) -> None: ...


class Specification:
    """The R4 specification's parameters only: what a server has before it loads its own
    SearchParameters, and what tools that index or parse without a server use. Immutable."""

    def params_for(self, type_: str) -> dict[str, SearchParam]:
        return builtin_params(type_)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Never calls ``listener``: the specification does not change."""


SPECIFICATION = Specification()


class SearchParameters(Specification):
    """One server's search parameters: the specification's and the custom ones its stored
    SearchParameter resources define (`search.custom` loads them). App-scoped
    (`fhir_server.services`): two servers in one process never see each other's."""

    def __init__(self) -> None:
        self._custom: dict[str, dict[str, SearchParam]] = {}
        self._listeners: list[Callable[[], None]] = []
        self._merged: dict[str, dict[str, SearchParam]] = {}

    def params_for(self, type_: str) -> dict[str, SearchParam]:
        """Every parameter of ``type_``: the specification's and the server's custom ones."""
        found = self._merged.get(type_)
        if found is None:
            found = self._merged[type_] = {**builtin_params(type_), **self._custom.get(type_, {})}
        return found

    def set_custom(self, params: dict[str, dict[str, SearchParam]]) -> None:
        """Replace the custom parameters; what cached anything derived from them starts over."""
        self._custom = {t: dict(found) for t, found in params.items()}
        self._merged = {}
        for listener in self._listeners:
            listener()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever the custom parameters change (caches of what they give)."""
        self._listeners.append(listener)


@cache
def patient_compartment() -> dict[str, tuple[str, ...]]:
    """Type → the parameters that put a resource in a Patient's compartment (R4
    CompartmentDefinition/patient, generated into `definitions/patient_compartment.json`)."""
    raw = resources.files("fhir_server.search").joinpath("definitions/patient_compartment.json")
    return {t: tuple(p) for t, p in orjson.loads(raw.read_bytes())["resources"].items()}
