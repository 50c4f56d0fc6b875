"""The search index's plain-path walks are an optimisation of the one FHIRPath engine, never a
second meaning: for every built-in search parameter expression the walk compiles, it must give
what the engine (`profiles.validation.compile_fhirpath`) gives, on the whole demo data set and a
synthetic one (every resource type the server's scenarios write)."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from dataset.demo import demo_resources
from dataset.synthetic import resources as synthetic
from fhir_server.search import fhirpath
from fhir_server.search.registry import builtin_params


@cache
def _data() -> tuple[dict[str, Any], ...]:
    return (*demo_resources(), *synthetic(40, 7))


def _walked() -> list[tuple[str, str]]:
    """(type, expression part) of every built-in parameter part the walk compiles."""
    types = sorted({r["resourceType"] for r in _data()})
    out = []
    for type_ in types:
        for param in builtin_params(type_).values():
            for part in fhirpath.union_parts(param.expression or ""):
                if part and fhirpath._simple(part, type_) is not None:
                    out.append((type_, part))
    return sorted(set(out))


def test_the_walk_compiles_most_expressions() -> None:
    # if the walk stops compiling them, this suite would pass vacuously
    assert len(_walked()) > 200


@pytest.mark.parametrize(("type_", "expression"), _walked())
def test_the_walk_gives_what_the_engine_gives(type_: str, expression: str) -> None:
    walk = fhirpath._simple(expression, type_)
    engine = fhirpath._engine(expression)
    assert walk is not None
    for resource in (r for r in _data() if r["resourceType"] == type_):
        assert walk(resource) == engine(resource), (resource["id"], expression)
