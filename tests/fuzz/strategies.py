"""Hypothesis strategies for FHIR-shaped hostile requests.

Bodies start from valid resources (the demo data set and a minimal instance of every served type)
and are mutated: wrong JSON types, deleted and duplicated elements, huge and odd strings, unicode,
numbers at the extremes, deep nesting, a wrong resourceType, bad references and ids. Searches
combine every prefix, modifier and chain shape; any request may carry odd headers.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.registry import builtin_params as params_for
from tests.api.support import minimal

TYPES = sorted(SERVED_TYPES)
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
MODIFIERS = (
    "missing",
    "exact",
    "contains",
    "text",
    "not",
    "above",
    "below",
    "in",
    "not-in",
    "of-type",
    "identifier",
    "iterate",
    "",
)
FHIR_MEDIA = ("application/fhir+json", "application/json", "application/json-patch+json")


@dataclass
class Request:
    """One generated HTTP request (``url`` relative to the server root)."""

    method: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, Any] = field(default_factory=dict)
    body: bytes | None = None


def to_json(value: Any) -> bytes:
    """JSON text as a client would send it; Python's encoder takes integers of any size."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------- values

ODD_STRINGS = (
    "",
    " ",
    "\t\n",
    "null",
    "Patient/",
    "../../etc/passwd",
    "%00",
    "'; DROP TABLE resource; --",
    "Ω≈ç√∫µ≤≥÷",
    "\U0001d518\U0001d52b\U0001d526",  # astral-plane letters
    "\u202e\u200b\ufeff",
    "²³¹",
    "٣٤",
    "x" * 70,
    "a" * 5000,
    "\\",
    "|",
    "$",
    ",",
    "*",
    "urn:uuid:",
)
EXTREME_NUMBERS = (
    0,
    -1,
    2**31,
    -(2**31) - 1,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    2**64,
    2**70,
    10**30,
    1e308,
    -1e308,
    5e-324,
    0.1,
    1.50,
    -0.0,
)
IDS = ("x", "a.b", "-", "1" * 64, "1" * 65, "with space", "..", "a/b", "Ω", "$", "", "a,b")

_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
    max_size=30,
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(EXTREME_NUMBERS),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
    st.sampled_from(ODD_STRINGS),
)
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


def _nest(value: Any, depth: int, as_list: bool) -> Any:
    for _ in range(depth):
        value = [value] if as_list else {"extension": value}
    return value


# ---------------------------------------------------------------- resources


class Pool(dict[str, list[dict[str, Any]]]):
    """Seeds by type, with a short repr (hypothesis prints strategies' arguments)."""

    def __repr__(self) -> str:
        return f"Pool({sum(map(len, self.values()))} resources)"


def seeds(demo: list[dict[str, Any]]) -> Pool:
    """Valid starting points by type: the demo set's and a minimal one of every served type."""
    out = Pool({t: [minimal(t)] for t in TYPES})
    for resource in demo:
        out[resource["resourceType"]].append(resource)
    return out


def _slots(node: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON tree, to pick a mutation site from."""
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((node, key))
            _slots(value, out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.append((node, i))
            _slots(value, out)
    return out


MUTATIONS = (
    "replace",
    "delete",
    "duplicate",
    "wrap",
    "unwrap",
    "odd-string",
    "number",
    "nest",
    "resource-type",
    "reference",
    "id",
    "add-element",
    "contained",
)


@st.composite
def mutated(draw: st.DrawFn, seed: dict[str, Any], max_mutations: int = 3) -> dict[str, Any]:
    resource = copy.deepcopy(seed)
    for _ in range(draw(st.integers(0, max_mutations))):
        kind = draw(st.sampled_from(MUTATIONS))
        slots = _slots(resource, [])
        if kind == "resource-type":
            resource["resourceType"] = draw(
                st.sampled_from([*TYPES, "Bundle", "Parameters", "Nope", "patient"]) | json_values
            )
            continue
        if kind == "id":
            resource["id"] = draw(st.sampled_from(IDS) | json_values)
            continue
        if kind == "add-element":
            resource[draw(_text | st.sampled_from(["meta", "text", "_id", "extension"]))] = draw(
                json_values
            )
            continue
        if kind == "contained":
            inner = draw(st.sampled_from(TYPES))
            resource["contained"] = draw(
                st.sampled_from([[minimal(inner, id="c1")], {"resourceType": inner}, "x", [1]])
            )
            continue
        if not slots:
            continue
        container, key = draw(st.sampled_from(slots))
        value = container[key]
        if kind == "replace":
            container[key] = draw(json_values)
        elif kind == "delete":
            del container[key]
        elif kind == "duplicate":
            if isinstance(container, list):
                container.append(copy.deepcopy(value))
            else:
                container[key] = [value, copy.deepcopy(value)]
        elif kind == "wrap":
            container[key] = [value]
        elif kind == "unwrap" and isinstance(value, list) and value:
            container[key] = value[0]
        elif kind == "odd-string":
            container[key] = draw(st.sampled_from(ODD_STRINGS) | _text)
        elif kind == "number":
            container[key] = draw(st.sampled_from(EXTREME_NUMBERS))
        elif kind == "nest":
            container[key] = _nest(value, draw(st.integers(2, 40)), draw(st.booleans()))
        elif kind == "reference":
            container[key] = {"reference": draw(references())}
    return resource


def references() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda t, i: f"{t}/{i}", st.sampled_from(TYPES), st.sampled_from(IDS)),
        st.sampled_from(
            [
                "Patient/",
                "/Patient/x",
                "Patient/x/_history/1",
                "Patient/x/_history/abc",
                "http://example.org/fhir/Patient/x",
                "urn:uuid:00000000-0000-0000-0000-000000000000",
                "urn:uuid:not-a-uuid",
                "#",
                "#missing",
                "Nope/x",
                "Patient?identifier=x",
            ]
        ),
        _text,
    )


# ---------------------------------------------------------------- searches


def _param_names(type_: str) -> list[str]:
    return sorted(params_for(type_))


@st.composite
def search_value(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(("", *PREFIXES)))
    body = draw(
        st.one_of(
            st.sampled_from(
                [
                    "2024",
                    "2024-01",
                    "2024-01-01",
                    "2024-01-01T10:00:00Z",
                    "2024-13-40",
                    "0001-01-01",
                    "1",
                    "1.5",
                    "1e10",
                    "-0",
                    "5.4|http://unitsofmeasure.org|mg",
                    "http://loinc.org|1234-5",
                    "|x",
                    "x|",
                    "Patient/demo-s1-citizen",
                    "demo-s1-citizen",
                    "true",
                    "http://hl7.org/fhir/ValueSet/x",
                    "a\\,b",
                    "a$b",
                ]
            ),
            st.sampled_from(ODD_STRINGS),
            st.sampled_from([str(n) for n in EXTREME_NUMBERS]),
            _text,
        )
    )
    values = [prefix + body]
    if draw(st.booleans()):  # an OR list
        values.append(draw(_text))
    return ",".join(values)


@st.composite
def search_param(draw: st.DrawFn, type_: str) -> tuple[str, str]:
    shape = draw(
        st.sampled_from(["plain", "modifier", "type-modifier", "chain", "has", "include", "result"])
    )
    names = _param_names(type_) or ["_id"]
    name = draw(st.sampled_from([*names, "nope", "_id", "_lastUpdated"]))
    if shape == "modifier":
        name = f"{name}:{draw(st.sampled_from(MODIFIERS))}"
    elif shape == "type-modifier":
        name = f"{name}:{draw(st.sampled_from([*TYPES, 'Nope']))}"
    elif shape == "chain":
        target = draw(st.sampled_from(TYPES))
        inner = draw(st.sampled_from([*_param_names(target), "nope"]))
        typed = draw(st.sampled_from(["", f":{target}"]))
        name = f"{name}{typed}.{inner}"
        if draw(st.booleans()):
            third = draw(st.sampled_from(TYPES))
            name += f".{draw(st.sampled_from([*_param_names(third), 'x']))}"
    elif shape == "has":
        other = draw(st.sampled_from(TYPES))
        ref = draw(st.sampled_from([*_param_names(other), "nope"]))
        inner = draw(st.sampled_from([*_param_names(other), "_has"]))
        name = f"_has:{other}:{ref}:{inner}"
    elif shape == "include":
        name = draw(st.sampled_from(["_include", "_revinclude"]))
        name += draw(st.sampled_from(["", ":iterate", ":recurse", ":nope"]))
        source = draw(st.sampled_from([*TYPES, "*", "Nope"]))
        param = draw(st.sampled_from([*_param_names(type_), "*", "nope"]))
        value = f"{source}:{param}"
        if draw(st.booleans()):
            value += f":{draw(st.sampled_from([*TYPES, 'Nope']))}"
        return name, value
    elif shape == "result":
        name = draw(
            st.sampled_from(
                ["_count", "_sort", "_summary", "_total", "_elements", "_cursor", "_format"]
            )
        )
        value = draw(
            st.sampled_from(["0", "1", "-1", "2", "1001", "²", "true", "count", "-_id", "x"])
            | st.sampled_from(_param_names(type_) or ["_id"]).map(lambda p: f"-{p}")
            | _text
        )
        return name, value
    return name, draw(search_value())


@st.composite
def search_query(draw: st.DrawFn, type_: str) -> list[tuple[str, str]]:
    return draw(st.lists(search_param(type_), min_size=1, max_size=4))


def encode_query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe=':._$')}={quote(v, safe='')}" for k, v in params)


# ---------------------------------------------------------------- headers

_etags = st.sampled_from(
    ['W/"1"', 'W/"2"', '"1"', "*", 'W/"x"', 'W/"²"', 'W/"99999999999999999999"']
)
_dates = st.sampled_from(
    [
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "yesterday",
        "",
    ]
)
HEADER_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "If-Match": _etags | _text.map(lambda s: s.encode("utf-8")),
    "If-None-Match": _etags,
    "If-Modified-Since": _dates,
    "Prefer": st.sampled_from(
        [
            "return=minimal",
            "return=representation",
            "return=OperationOutcome",
            "handling=strict",
            "handling=lenient",
            "respond-async",
            "return=",
            "x=y; z",
        ]
    ),
    "Accept": st.sampled_from(
        [
            "application/fhir+json",
            "application/json",
            "application/fhir+xml",
            "text/html",
            "*/*",
            "application/fhir+json; fhirVersion=3.0",
            "application/*;q=0.1",
            "nope",
            "",
        ]
    ),
    "Content-Type": st.sampled_from(
        [
            *FHIR_MEDIA,
            "application/x-www-form-urlencoded",
            "text/plain",
            "application/fhir+xml",
            "application/fhir+json; charset=latin-1",
            "multipart/form-data; boundary=x",
            "nope",
        ]
    ),
}


@st.composite
def headers(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(sorted(HEADER_VALUES)), max_size=3, unique=True))
    out = {name: draw(HEADER_VALUES[name]) for name in names}
    if "If-None-Exist" not in out and draw(st.integers(0, 9)) == 0:
        out["If-None-Exist"] = encode_query(draw(search_query(draw(st.sampled_from(TYPES)))))
    return out


# ---------------------------------------------------------------- requests


def _json_patch(draw: st.DrawFn, seed: dict[str, Any]) -> list[Any]:
    keys = [*seed, "id", "resourceType", "meta", "nope"]
    ops = []
    for _ in range(draw(st.integers(0, 3))):
        path = "/" + "/".join(draw(st.lists(st.sampled_from([*keys, "0", "-", "~1"]), max_size=3)))
        op: dict[str, Any] = {
            "op": draw(st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"])),
            "path": draw(st.sampled_from([path, "", "/"]) | _text),
        }
        if draw(st.booleans()):
            op["value"] = draw(json_values)
        if draw(st.booleans()):
            op["from"] = "/" + draw(st.sampled_from(keys))
        ops.append(op)
    return draw(st.sampled_from([ops, {"op": "add"}, [[]], "x"])) if draw(st.booleans()) else ops


def _fhirpath_patch(draw: st.DrawFn, type_: str) -> dict[str, Any]:
    kinds = ["add", "insert", "delete", "replace", "move", "x"]
    paths = [type_, f"{type_}.id", f"{type_}.name", f"{type_}.status", "(", "%x"]
    parts = [
        {"name": "type", "valueCode": draw(st.sampled_from(kinds))},
        {"name": "path", "valueString": draw(st.sampled_from(paths))},
        {"name": "name", "valueString": draw(st.sampled_from(["name", "status", "x", ""]))},
        {"name": "value", "valueString": draw(_text)},
        {"name": "index", "valueInteger": draw(st.sampled_from(EXTREME_NUMBERS))},
    ]
    chosen = draw(st.lists(st.sampled_from(parts), max_size=5))
    return {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": chosen}]}


@st.composite
def bundle_entry(draw: st.DrawFn, pool: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    type_ = draw(st.sampled_from(TYPES))
    resource = draw(mutated(draw(st.sampled_from(pool[type_])), 2))
    method = draw(st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET", "HEAD", "x"]))
    target = f"{type_}/{resource.get('id', 'x')}" if method in ("PUT", "PATCH", "DELETE") else type_
    entry: dict[str, Any] = {
        "fullUrl": draw(
            st.sampled_from(
                [f"urn:uuid:{draw(st.uuids())}", f"http://testserver/fhir/{target}", "x"]
            )
        ),
        "resource": resource,
        "request": {"method": method, "url": draw(st.sampled_from([target, "", "?x"]))},
    }
    if draw(st.integers(0, 4)) == 0:
        entry["request"]["ifNoneExist"] = encode_query(draw(search_query(type_)))
    if draw(st.integers(0, 4)) == 0:
        entry["request"]["ifMatch"] = draw(_etags)
    if draw(st.integers(0, 4)) == 0:  # a wrong shape somewhere in the entry
        where = draw(st.sampled_from(["fullUrl", "request", "resource", "method", "url"]))
        value = draw(json_values)
        if where in ("method", "url"):
            entry["request"][where] = value
        else:
            entry[where] = value
    return entry


@st.composite
def requests(
    draw: st.DrawFn, pool: dict[str, list[dict[str, Any]]], kinds: tuple[str, ...] | None = None
) -> Request:
    """Any request the fuzzer sends; ``pool`` holds the seeds by type (their ids are stored)."""
    kind = draw(
        st.sampled_from(
            kinds
            or (
                "create",
                "update",
                "patch",
                "bundle",
                "search",
                "search-post",
                "system-search",
                "read",
                "history",
                "delete",
                "conditional",
                "validate",
                "raw-body",
            )
        )
    )
    type_ = draw(st.sampled_from(TYPES))
    seed = draw(st.sampled_from(pool[type_]))
    id_ = draw(st.sampled_from([seed.get("id", "x"), "x"]) | st.sampled_from(IDS))
    head = draw(headers())
    path_id = quote(str(id_), safe="") or "x"
    if kind == "create":
        body = to_json(draw(mutated(seed)))
        return Request("POST", f"/fhir/{type_}", headers=head, body=body)
    if kind == "update":
        resource = draw(mutated(seed))
        return Request("PUT", f"/fhir/{type_}/{path_id}", headers=head, body=to_json(resource))
    if kind == "patch":
        if draw(st.booleans()):
            head.setdefault("Content-Type", "application/json-patch+json")
            body = to_json(_json_patch(draw, seed))
        else:
            head.setdefault("Content-Type", "application/fhir+json")
            body = to_json(_fhirpath_patch(draw, type_))
        return Request("PATCH", f"/fhir/{type_}/{path_id}", headers=head, body=body)
    if kind == "bundle":
        bundle = {
            "resourceType": "Bundle",
            "type": draw(st.sampled_from(["transaction", "batch", "collection", "x"])),
            "entry": draw(st.lists(bundle_entry(pool), max_size=4)),
        }
        if draw(st.integers(0, 5)) == 0:
            bundle = draw(mutated(bundle))
        return Request("POST", "/fhir", headers=head, body=to_json(bundle))
    if kind == "search":
        return Request(
            "GET", f"/fhir/{type_}?{encode_query(draw(search_query(type_)))}", headers=head
        )
    if kind == "search-post":
        head["Content-Type"] = "application/x-www-form-urlencoded"
        body = encode_query(draw(search_query(type_))).encode()
        return Request("POST", f"/fhir/{type_}/_search", headers=head, body=body)
    if kind == "system-search":
        params = [
            ("_type", ",".join(draw(st.lists(st.sampled_from([*TYPES, "Nope"]), max_size=3))))
        ]
        params += draw(st.lists(search_param("Patient"), max_size=2))
        return Request("GET", f"/fhir?{encode_query(params)}", headers=head)
    if kind == "read":
        suffix = draw(
            st.sampled_from(
                ["", "/_history/1", "/_history/²", f"/_history/{2**63}", "/_history/-1", "/x/y"]
            )
        )
        return Request("GET", f"/fhir/{type_}/{path_id}{suffix}", headers=head)
    if kind == "history":
        where = draw(
            st.sampled_from(
                [f"/fhir/{type_}/{path_id}/_history", f"/fhir/{type_}/_history", "/fhir/_history"]
            )
        )
        params = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["_since", "_at", "_count", "_cursor", "x"]), search_value()
                ),
                max_size=2,
            )
        )
        return Request("GET", f"{where}?{encode_query(params)}", headers=head)
    if kind == "delete":
        return Request("DELETE", f"/fhir/{type_}/{path_id}", headers=head)
    if kind == "conditional":
        method = draw(st.sampled_from(["PUT", "DELETE", "PATCH"]))
        query = encode_query(draw(search_query(type_)))
        body = to_json(draw(mutated(seed))) if method == "PUT" else None
        if method == "PATCH":
            head["Content-Type"] = "application/json-patch+json"
            body = to_json(_json_patch(draw, seed))
        return Request(method, f"/fhir/{type_}?{query}", headers=head, body=body)
    if kind == "validate":
        body = draw(mutated(seed))
        if draw(st.booleans()):
            body = {
                "resourceType": "Parameters",
                "parameter": [{"name": "resource", "resource": body}],
            }
        return Request("POST", f"/fhir/{type_}/$validate", headers=head, body=to_json(body))
    # raw-body: bytes that are not quite JSON
    raw = draw(
        st.sampled_from(
            [
                b"",
                b"{",
                b"[]",
                b"null",
                b'{"resourceType":"Patient",}',
                b"\xff\xfe",
                b'{"a":NaN}',
                b"1e999",
            ]
        )
        | st.binary(max_size=64)
    )
    method = draw(st.sampled_from(["POST", "PUT", "PATCH"]))
    url = f"/fhir/{type_}" if method == "POST" else f"/fhir/{type_}/{path_id}"
    return Request(method, url, headers=head, body=raw)
