"""The SQLite index stores a parameter as an integer key of ``Type.name``. Keys of the
specification's parameters are 31-bit hashes that a test over the whole registry shows to be
distinct; custom parameters' keys lie in another range, so no custom parameter, whatever its
code, can share a key with a built-in one (issue 10, item 1)."""

from __future__ import annotations

import random
import string

import pytest

from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.registry import builtin_params
from fhir_server.store.sqlite.schema import CUSTOM_KEYS, param_key

SUFFIXES = ("", ":text", ":identifier", ":of-type")


def test_no_two_indexed_parameters_share_a_key() -> None:
    names = [
        (type_, name + suffix)
        for type_ in SERVED_TYPES
        for name in builtin_params(type_)
        for suffix in SUFFIXES
    ]
    keys = {param_key(*n) for n in names}
    assert len(keys) == len(names)
    assert all(0 <= k < 2**31 for k in keys)


@pytest.mark.parametrize(
    ("type_", "code", "builtin"),
    [
        ("CarePlan", "ze1c84c5", "patient"),
        ("Patient", "z1c2a458f", "link"),
        ("Condition", "zf07faa3", "asserter"),
    ],
)
def test_a_code_chosen_to_collide_gets_a_key_of_its_own(
    type_: str, code: str, builtin: str
) -> None:
    assert param_key(type_, code) != param_key(type_, builtin)
    assert param_key(type_, code) >= CUSTOM_KEYS


def test_any_custom_code_keys_outside_the_builtin_range() -> None:
    """A property over many random codes (seeded): every key of a name that is not one of the
    type's specification parameters is in the custom range, below SQLite's integer limit."""
    rng = random.Random(10)
    alphabet = string.ascii_letters + string.digits + "-_"
    for _ in range(20_000):
        type_ = rng.choice(sorted(SERVED_TYPES))
        code = rng.choice(string.ascii_letters) + "".join(
            rng.choice(alphabet) for _ in range(rng.randint(0, 12))
        )
        if code in builtin_params(type_):
            continue
        for suffix in SUFFIXES:
            assert CUSTOM_KEYS <= param_key(type_, code + suffix) < 2**63


def test_last_updated_row_is_what_the_date_parameter_makes_of_the_instant() -> None:
    from fhir_server.search.extract import with_last_updated
    from fhir_server.search.params import date
    from fhir_server.search.terms import Index
    from fhir_server.stored import instant

    ts = 1_795_457_312_579_989
    assert with_last_updated(Index(), ts).dates == tuple(date.index("_lastUpdated", [instant(ts)]))
