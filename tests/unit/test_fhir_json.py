"""`fhir_json`: every JSON number a client can write comes back as written, whichever path
(orjson alone, or the exact parse) the body took; copies keep the text too."""

from __future__ import annotations

import copy
import math
import random

import pytest

from fhir_server import fhir_json
from fhir_server.errors import FhirError


def _number(rng: random.Random) -> str:
    """A random JSON number: sign, integer part, fraction and exponent of random lengths."""
    text = "-" if rng.random() < 0.3 else ""
    digits = rng.choice([1, 1, 2, 3, 8, 15, 16, 17, 19, 20, 25, 40])
    text += (
        "0"
        if rng.random() < 0.2
        else str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(digits - 1))
    )
    if rng.random() < 0.6:
        text += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20)))
    if rng.random() < 0.2:
        text += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 40))
    return text


def test_every_number_is_written_back_as_written() -> None:
    rng = random.Random(10)
    for _ in range(5000):
        text = _number(rng)
        if text == "-0" or not math.isfinite(float(text)):
            continue
        body = f'{{"value":{text},"list":[{text}, 1.5]}}'.encode()
        doc = fhir_json.parse_body(body)
        assert float(doc["value"]) == float(text)
        out = fhir_json.dumps(doc)
        assert out == f'{{"value":{text},"list":[{text},1.5]}}'.encode(), text
        assert fhir_json.dumps(fhir_json.loads(out)) == out
        assert fhir_json.dumps(fhir_json.copy(doc)) == out
        assert fhir_json.dumps(copy.deepcopy(doc)) == out


def test_canonical_bodies_take_orjson_alone() -> None:
    """A body orjson writes back byte for byte has nothing to keep: plain floats and ints."""
    doc = fhir_json.parse_body(b'{"a":1.5,"b":[2,0.25],"c":"1.50"}\n')
    assert [type(doc["a"]), type(doc["b"][0]), type(doc["b"][1])] == [float, int, float]
    pretty = fhir_json.parse_body(b'{\n  "a": 1.5,\n  "b": [\n    2\n  ]\n}\n')
    assert type(pretty["a"]) is float
    twice = b'{\n  "a": 1.5,\n  "a": 1.5\n}'
    with pytest.raises(FhirError):
        fhir_json.parse_body(twice)
    exact = fhir_json.parse_body(b'{"a": 1.5, "b": 1.50}')
    assert type(exact["a"]) is float and type(exact["b"]) is fhir_json.ExactNumber
    assert str(exact["b"]) == "1.50" and exact["b"] == 1.5


def test_a_negative_zero_integer_is_zero() -> None:
    assert fhir_json.dumps(fhir_json.parse_body(b'{"a":-0,"b":-0.0}')) == b'{"a":0,"b":-0.0}'


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"a":1,"a":1}', "a"),
        (b'{"a":1, "b":{"c":[{"d":1,"e":2,"d":1}]}}', "b.c[0].d"),
        (
            b'{"resourceType":"Patient","name":[{},{"family":"x","family":"y"}]}',
            "Patient.name[1].family",
        ),
        (b'[{"op":"add","op":"remove"}]', "[0].op"),
    ],
)
def test_a_key_given_twice_is_named(body: bytes, where: str) -> None:
    with pytest.raises(FhirError) as err:
        fhir_json.parse_body(body)
    assert err.value.issues[0].expression == (where,)
    assert err.value.issues[0].code == "structure"


def test_deep_nesting_is_a_client_error() -> None:
    body = b'{"a":' * 1000 + b"1.50" + b"}" * 1000
    with pytest.raises(FhirError):
        fhir_json.parse_body(body)
