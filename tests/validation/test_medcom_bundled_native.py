"""``medcom-messaging-bundled``, ``bdl-3`` and ``bdl-4`` checked natively
(profiles.validation.invariants) give the verdicts their FHIRPath expressions give (bdl-3/4 on
Bundles of every kind of entry): on MedCom's example messages, on each of them with one
reference broken, with a Provenance agent unresolved, and with a reference the native hands
back to the expression (not a string)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from profiles.src.medcom_messaging import BUNDLED
from profiles.validation import Validator
from profiles.validation.context import Context
from profiles.validation.invariants import BDL_3, BDL_4, MEDCOM_BUNDLED, NATIVE
from tests.support import medcom_examples

NATIVE_CHECK = NATIVE[("medcom-messaging-bundled", MEDCOM_BUNDLED)]
EXAMPLES = ["cc-new-A.json", "cc-new-E-parallel.json", "cc-forward-C.json", "hn-stin-G.json"]


def _variants(bundle: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield bundle
    broken = copy.deepcopy(bundle)
    broken["entry"][0]["resource"]["sender"]["reference"] = "Organization/nowhere"
    yield broken
    for i, entry in enumerate(bundle["entry"]):
        if entry["resource"]["resourceType"] == "Provenance":
            unresolved = copy.deepcopy(bundle)
            unresolved["entry"][i]["resource"]["agent"][0]["who"] = {"reference": "urn:uuid:x"}
            yield unresolved
    odd = copy.deepcopy(bundle)
    odd["entry"][0]["resource"]["sender"]["reference"] = 7
    yield odd


def _expression_verdict(bundle: dict[str, Any]) -> bool | str:
    expression = Validator.default().fhirpath.compile(MEDCOM_BUNDLED, "Bundle")
    try:
        result = expression.evaluate(bundle, bundle, bundle)
    except Exception as exc:  # the engine's error: the native must defer to it
        return f"error {type(exc).__name__}"
    return result == [True]


def test_the_native_rule_is_the_profile_rule() -> None:
    assert MEDCOM_BUNDLED == BUNDLED


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_native_verdict_is_the_expression_verdict(name: str) -> None:
    found = medcom_examples.find(name)
    if found is None:
        pytest.skip(f"MedCom example {name} needs ../shared/medcom-examples")
    for bundle in _variants(json.loads(found.read_text(encoding="utf-8"))):
        native = NATIVE_CHECK(bundle, Context(Validator.default(), bundle, None))
        expected = _expression_verdict(bundle)
        if native is None:  # deferred: only the non-string reference, where the engine fails
            assert expected == "error EvaluationError"
        else:
            assert native == expected


def _bundles() -> Iterator[dict[str, Any]]:
    kinds = ["message", "batch", "transaction", "history", "batch-response", "searchset"]
    entries: list[list[Any] | None] = [
        None,
        [],
        [{"fullUrl": "urn:uuid:a"}],
        [{"request": {"method": "GET", "url": "Patient"}}],
        [{"response": {"status": "200"}}],
        [{"request": {"method": "GET", "url": "x"}, "response": {"status": "200"}}, {}],
        [{"request": [{"method": "GET"}]}],
        ["not an entry"],
    ]
    for kind in [*kinds, None]:
        for entry in entries:
            bundle: dict[str, Any] = {"resourceType": "Bundle"}
            if kind is not None:
                bundle["type"] = kind
            if entry is not None:
                bundle["entry"] = entry
            yield bundle


@pytest.mark.parametrize("key", ["bdl-3", "bdl-4"])
def test_the_native_entry_rules_are_the_expressions(key: str) -> None:
    expression = BDL_3 if key == "bdl-3" else BDL_4
    native_check = NATIVE[(key, expression)]
    compiled = Validator.default().fhirpath.compile(expression, "Bundle")
    decided = 0
    for bundle in _bundles():
        native = native_check(bundle, Context(Validator.default(), bundle, None))
        try:
            expected: object = compiled.evaluate(bundle, bundle, bundle) == [True]
        except Exception as exc:
            expected = type(exc).__name__
        if native is not None:
            assert native == expected, bundle
            decided += 1
    assert decided >= 36  # all but the odd entries and the missing type
