"""FHIR JSON in and out: request bodies parsed once, checked the way FHIR (not JSON) requires, and
every number served exactly as the client wrote it.

R4 makes a decimal's precision significant (datatypes.html#decimal: ``1.50`` is not ``1.5``), but
a parse to floats and back writes ``1.50`` as ``1.5``, ``0.010`` as ``0.01``, ``1e2`` as
``100.0`` and 2^70 as ``1.1805916207174113e+21``. A number whose float orjson would not write
back as written becomes an `ExactNumber`: a float (validation and search see a number, as
before) that remembers its text, which `dumps` writes back verbatim (``orjson.Fragment``).

The cost is paid only by bodies that need it (docs/performance.md, ``bench.json_parse``): orjson
parses every body; when writing the result back gives the body's own bytes (what orjson,
``JSON.stringify`` and most FHIR clients send, compact or indented by two spaces), every number
round-trips and no key was given twice, and nothing more is done. Any other body (formatted
otherwise, ``\\u``-escaped, with ``1.50`` or a duplicate key) is parsed again by the standard
library's parser with hooks that keep each number's text and refuse duplicate keys: about five
times orjson's cost, still a tenth of what the rest of a write costs.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from fhir_server.errors import Invalid, InvalidStructure

_U64 = 2**64
_I64 = -(2**63)
_SPACE = b" \t\r\n"
_ESCAPED_CONTROL = re.compile(rb"\\(?:u00[01][0-9a-fA-F]|[bf])")
"""How a C0 control character other than tab, CR and LF can appear in JSON text (raw ones are
invalid JSON); the escaped backslash of ``\\\\b`` is a false alarm the walk settles."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class ExactNumber(float):
    """A JSON number with the text it was written as (``1.50``, ``1e2``, ``123…`` beyond 64
    bits): equal to, and used as, its float; `dumps` writes its text."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> ExactNumber:
        self = super().__new__(cls, text)
        self.text = text
        return self

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"ExactNumber({self.text!r})"

    def __reduce__(self) -> tuple[type[ExactNumber], tuple[str]]:
        return ExactNumber, (self.text,)

    def __copy__(self) -> ExactNumber:
        return self  # immutable, as a float

    def __deepcopy__(self, memo: dict[int, Any]) -> ExactNumber:
        return self


def _default(value: Any) -> Any:
    if type(value) is ExactNumber:
        return orjson.Fragment(value.text)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def dumps(doc: Any, option: int = 0) -> bytes:
    """``orjson.dumps`` that writes each `ExactNumber` as written."""
    return orjson.dumps(doc, default=_default, option=option)


def loads(content: bytes) -> Any:
    """Stored JSON (written by `dumps`) with its numbers as written: what a reader re-serializes
    after changing it (``_elements``, ``_pretty``, PATCH) keeps every other number's text."""
    doc = orjson.loads(content)
    return doc if _round_trips(doc, content) else _exact(content)


def copy(doc: Any) -> Any:
    """A deep copy of parsed JSON (a unit of work that may run again changes its own copy)."""
    exact = False

    def default(value: Any) -> Any:
        nonlocal exact
        exact = True
        return _default(value)

    raw = orjson.dumps(doc, default=default)
    return _exact(raw) if exact else orjson.loads(raw)


MAX_DEPTH = 100
"""Objects and arrays a request body may nest (a Bundle and its resources together): every
walk of a resource (validation, indexing, references) recurses, and orjson serializes at most
254 levels while it parses 1,024."""


def too_deep(doc: Any) -> bool:
    """Whether ``doc`` nests more than `MAX_DEPTH` levels: level by level, without recursion,
    skipping scalars."""
    level = [doc] if type(doc) in (dict, list) else []
    for _ in range(MAX_DEPTH):
        if not level:
            return False
        below: list[Any] = []
        for node in level:
            for value in node.values() if type(node) is dict else node:
                if type(value) is dict or type(value) is list:
                    below.append(value)
        level = below
    return bool(level)


def parse_body(body: bytes | bytearray) -> Any:
    """The one parser of FHIR JSON request bodies (resources, Bundles, Parameters, JSON Patch
    documents): the parsed JSON with each number as written, or 400 when it is not JSON, gives
    a property twice (which one counts is not defined; RFC 8259 §4) or holds a string with a
    control character (R4 datatypes.html#string: only tab, CR and LF are allowed)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise Invalid(f"Request body is not valid JSON: {err}") from err
    if too_deep(doc):
        raise InvalidStructure(
            f"The request body nests objects and arrays more than {MAX_DEPTH} levels deep"
        )
    if not _round_trips(doc, body, pretty=True):
        doc = _checked(body)
    if _ESCAPED_CONTROL.search(body):  # faster than three ``in`` tests (bench.json_parse)
        found = _control_at(doc)
        if found is not None:
            where, char = found
            raise Invalid(
                f"Invalid string: it contains the control character U+{ord(char):04X}"
                " (of those only tab, CR and LF are allowed)",
                [where],
            )
    return doc


def _round_trips(doc: Any, raw: bytes | bytearray, pretty: bool = False) -> bool:
    """Whether writing ``doc`` back gives ``raw`` (trailing whitespace aside), compact or
    (``pretty``) also indented by two spaces, as ``JSON.stringify(x, null, 2)`` writes (and
    Python's ``json.dumps(x, indent=2)`` for ASCII text): then no number changes its text and no
    key was dropped."""
    try:
        out = orjson.dumps(doc)
        if not _same(out, raw) and pretty and raw[:1] in b"{[" and raw[1:2] == b"\n":
            out = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes: let the slow path say
        return False
    return _same(out, raw)


def _same(out: bytes, raw: bytes | bytearray) -> bool:
    return raw.startswith(out) and (len(raw) == len(out) or not raw[len(out) :].strip(_SPACE))


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)
    return out


def _float(text: str) -> float:
    value = float(text)
    return value if orjson.dumps(value) == text.encode() else ExactNumber(text)


def number(text: str) -> int | float:
    """A JSON number's value from its text, as `parse_body` gives it: an int, a float, or an
    `ExactNumber` when the float would not be written back as written (the XML codec reads a
    decimal's value attribute with it, so both formats give one document)."""
    if "." in text or "e" in text or "E" in text:
        return _float(text)
    return _int(text)


def _int(text: str) -> int | float:
    if len(text) < 19:
        return int(text)
    value = int(text)
    return value if _I64 <= value < _U64 else ExactNumber(text)  # orjson: float beyond


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # orjson has refused it already


def _exact(raw: bytes | bytearray) -> Any:
    return json.loads(
        raw,
        parse_float=_float,
        parse_int=_int,
        parse_constant=_refuse_constant,
        object_pairs_hook=_object,
    )


def _checked(body: bytes | bytearray) -> Any:
    """``body`` (valid JSON for orjson) parsed with each number as written; 400 naming a key
    given twice."""
    try:
        return _exact(body)
    except _Duplicate as dup:
        where = _duplicate_at(body)
        raise InvalidStructure(
            f"Property {dup.key!r} is given more than once in one object", [where]
        ) from None
    except RecursionError:
        raise Invalid("Request body is nested too deeply") from None
    except ValueError as err:  # orjson accepted it; the standard library should too
        raise Invalid(f"Request body is not valid JSON: {err}") from None


class _Pairs(list[tuple[str, Any]]):
    """An object as its key/value pairs in order, duplicates kept."""


def _duplicate_at(body: bytes | bytearray) -> str:
    """Where the first property given twice is (``Patient.name[0].family``)."""
    doc = json.loads(body, object_pairs_hook=_Pairs)
    stack: list[tuple[Any, str]] = [(doc, _root(doc))]
    while stack:
        node, at = stack.pop()
        if isinstance(node, _Pairs):
            seen = set()
            for key, _ in node:
                if key in seen:
                    return _join(at, key)
                seen.add(key)
            stack.extend((v, _join(at, k)) for k, v in reversed(node))
        elif isinstance(node, list):
            stack.extend((v, f"{at}[{i}]") for i, v in reversed(list(enumerate(node))))
    return _root(doc)


def _control_at(doc: Any) -> tuple[str, str] | None:
    """Where the first string (or property name) with a control character is, and the
    character; None if there is none."""
    stack: list[tuple[Any, str]] = [(doc, _root(doc))]
    while stack:
        node, at = stack.pop()
        if isinstance(node, str):
            if found := _CONTROL.search(node):
                return at, found.group()
        elif isinstance(node, dict):
            for key in node:  # a property name: the object holding it (the name is no path)
                if found := _CONTROL.search(key):
                    return at, found.group()
            stack.extend((v, _join(at, k)) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, f"{at}[{i}]") for i, v in reversed(list(enumerate(node))))
    return None


def _root(doc: Any) -> str:
    """The type an expression starts with: the body's ``resourceType``, unless it is unclear."""
    if isinstance(doc, _Pairs):
        types = [v for k, v in doc if k == "resourceType"]
        type_ = types[0] if len(types) == 1 else None
    else:
        type_ = doc.get("resourceType") if isinstance(doc, dict) else None
    return type_ if isinstance(type_, str) and type_.isidentifier() else ""


def _join(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key
