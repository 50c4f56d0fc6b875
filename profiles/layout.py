"""Where each element of every R4 type goes in FHIR XML, precomputed from the R4 definitions.

The XML codec (`fhir_server.fhir_xml`) needs, per type or backbone element, its children in
definition order (XML elements SHALL appear in that order; JSON properties may not), which
repeat, which are primitives (and whether a primitive's JSON value is a number, a boolean or a
string), which are XML attributes (``Element.id``, ``Extension.url``), which hold a resource
(``contained``, ``Bundle.entry.resource``) and which is the XHTML ``div``. The compiled
definitions (`profiles.elements`) cover the served types only, and a Bundle, OperationOutcome,
Parameters, CapabilityStatement or MessageHeader travels as XML too, so the table is generated
for every R4 type from the same package (``scripts/generate_r4_layout.py``); the two agree
where both define a type (tests/unit/test_fhir_xml.py).

`Layout.children` is built once per path and kept: a lookup per element is one dict access.
Read-only after construction: safe to share between threads.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path

LAYOUT_FILE = Path(__file__).resolve().parent / "r4-layout" / "elements.json"

_INLINE = frozenset({"BackboneElement", "Element"})
_NUMBERS = {"integer": "int", "positiveInt": "int", "unsignedInt": "int", "decimal": "decimal"}


class Form(Enum):
    """How an element is written in XML."""

    PRIMITIVE = 1
    """``<name value="…"/>``, with an ``id`` attribute and ``extension`` children."""
    COMPLEX = 2
    """``<name>children</name>`` (a data type or a backbone element)."""
    RESOURCE = 3
    """``<name><Type>…</Type></name>``: a resource inside a resource."""
    ATTRIBUTE = 4
    """An XML attribute of its parent (``Element.id``, ``Extension.url``)."""
    XHTML = 5
    """The narrative's ``div``, an XHTML element."""


@dataclass(frozen=True, slots=True)
class Slot:
    """One JSON name of an element (a choice element has one per type)."""

    name: str
    order: int
    """The element's position among its parent's children (a choice's names share one)."""
    form: Form
    repeats: bool
    value: str
    """For a primitive: ``bool``, ``int``, ``decimal`` or ``str`` (its JSON value)."""
    path: str
    """For a complex element: the path whose children are its children (a type name, or a
    backbone element's path)."""


class Layout:
    """The R4 layout of every type, by path."""

    def __init__(self, table: dict[str, dict[str, object]]) -> None:
        self._types: dict[str, str] = table["types"]  # type: ignore[assignment]
        self._elements: dict[str, list[list[object]]] = table["elements"]  # type: ignore[assignment]
        self._children: dict[str, dict[str, Slot]] = {}
        self._lock = threading.Lock()

    @classmethod
    @cache
    def default(cls) -> Layout:
        with LAYOUT_FILE.open(encoding="utf-8") as fh:
            return cls(json.load(fh))

    def is_resource(self, type_name: str) -> bool:
        """Whether R4 defines a concrete resource type of this name."""
        return self._types.get(type_name) == "resource" and type_name not in (
            "Resource",
            "DomainResource",
        )

    def children(self, path: str) -> dict[str, Slot]:
        """The children of a type (``Patient``) or backbone element (``Bundle.entry``) by JSON
        name, in definition order; empty when R4 defines no such path."""
        found = self._children.get(path)
        if found is None:
            found = self._index(path)
            with self._lock:
                self._children[path] = found
        return found

    def _type(self, code: str) -> str:
        kind = self._types.get(code, "")
        return kind[6:] if kind.startswith("alias:") else code

    def _index(self, path: str) -> dict[str, Slot]:
        out: dict[str, Slot] = {}
        for order, (name, types, repeats, rep) in enumerate(self._elements.get(path, [])):
            assert isinstance(name, str) and isinstance(types, list)
            choice = name.endswith("[x]")
            for code in types:
                assert isinstance(code, str)
                json_name = name[:-3] + code[:1].upper() + code[1:] if choice else name
                out[json_name] = self._slot(json_name, order, code, bool(repeats), rep, path)
        return out

    def _slot(self, name: str, order: int, code: str, repeats: bool, rep: object, at: str) -> Slot:
        if rep == "attr":
            return Slot(name, order, Form.ATTRIBUTE, False, "str", "")
        if code == "xhtml":
            return Slot(name, order, Form.XHTML, False, "str", "")
        if code.startswith("@"):
            return Slot(name, order, Form.COMPLEX, repeats, "", code[1:])
        if code in _INLINE:
            return Slot(name, order, Form.COMPLEX, repeats, "", f"{at}.{name}")
        code = self._type(code)
        kind = self._types.get(code)
        if code == "Resource" or kind == "resource":
            return Slot(name, order, Form.RESOURCE, repeats, "", code)
        if kind == "primitive":
            value = "bool" if code == "boolean" else _NUMBERS.get(code, "str")
            return Slot(name, order, Form.PRIMITIVE, repeats, value, code)
        return Slot(name, order, Form.COMPLEX, repeats, "", code)
