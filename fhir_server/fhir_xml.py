"""FHIR XML in and out (R4 xml.html), as the same parsed JSON the JSON codec gives.

`parse` turns an XML body into exactly the document `fhir_json.parse_body` would give for the
same resource written as JSON, so every interaction, the validator and the stores see one
format; `render` writes a parsed JSON document as XML. What XML says by its shape and JSON by
its syntax (element order, which elements repeat, which are primitives and whether a primitive is
a number or a boolean, which are attributes, which hold a resource, the XHTML narrative) comes
from the R4 definitions (`profiles.layout`). The mapping:

- a primitive ``"birthDate": "1970"`` with ``"_birthDate": {"id": …, "extension": […]}`` is
  ``<birthDate id="…" value="1970"><extension …/></birthDate>``; in a repeating element the
  JSON arrays pair up by position, ``null`` where one side has nothing;
- ``Element.id`` and ``Extension.url`` are attributes, a resource's ``id`` an element;
- a resource inside a resource (``contained``, ``Bundle.entry.resource``) is wrapped in an
  element named by its type, as the document root is;
- ``Narrative.div`` is the XHTML element itself, in the XHTML namespace; in JSON its text;
- decimals keep their text both ways (`fhir_json.number`): ``1.50`` stays ``1.50``.

The parser is hardened (lxml with no DTD, no entity expansion, no network; a document with a
DOCTYPE is refused) and refuses what R4 XML does not allow — an unknown element or attribute,
elements out of definition order, text where elements belong, a primitive with neither a value
nor an extension, a value that is not of the element's type — with a 400 naming the element.
The renderer writes strings directly (no tree): a read's cost is dominated by it
(docs/performance.md, "XML and JSON").
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from html.entities import name2codepoint
from typing import Any
from xml.parsers import expat

import orjson
from lxml import etree

from fhir_server import fhir_json
from fhir_server.errors import Invalid, InvalidStructure
from profiles.layout import Form, Layout, Slot

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_FHIR = "{" + FHIR_NS + "}"
_XHTML_DIV = "{" + XHTML_NS + "}div"
_BOOLEANS = {"true": True, "false": False}
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_local = threading.local()
_PRIMITIVE, _COMPLEX, _RESOURCE, _ATTRIBUTE = (
    Form.PRIMITIVE,
    Form.COMPLEX,
    Form.RESOURCE,
    Form.ATTRIBUTE,
)


def _parser() -> etree.XMLParser:
    """A hardened parser per thread (an lxml parser is not shared between threads): no DTD
    loaded or validated, entities not expanded, nothing fetched, comments and processing
    instructions dropped, libxml2's limits on depth and size kept (no ``huge_tree``)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            remove_comments=True,
            remove_pis=True,
            huge_tree=False,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


# ---------------------------------------------------------------------------------------------
# XML → JSON


_PROLOG = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|\s)*", re.DOTALL)
_UNICODE_MARKS = (b"\xfe\xff", b"\xff\xfe", b"\x00")


def _prolog_problem(raw: bytes) -> str | None:
    """Why the body is refused before libxml2 reads it: a DOCTYPE (a DTD: entity declarations,
    the material of entity-expansion bombs and external-entity reads; FHIR XML never has
    one), or an encoding other than UTF-8 (R4 http.html: UTF-8 only) betrayed by its first
    bytes."""
    if raw.startswith(_UNICODE_MARKS) or raw[1:2] == b"\x00":
        return "Request body is not UTF-8; FHIR XML is UTF-8"
    found = _PROLOG.match(raw, 3 if raw.startswith(b"\xef\xbb\xbf") else 0)
    if raw.startswith(b"<!DOCTYPE", found.end() if found else 0):
        return "Request body has a DOCTYPE: DTDs and entity declarations are not accepted"
    return None


def parse(body: bytes | bytearray) -> dict[str, Any]:
    """The resource an XML request body holds, as parsed JSON; 400 naming what is wrong."""
    raw = bytes(body)
    problem = _prolog_problem(raw)
    if problem is not None:
        raise Invalid(problem)
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as err:
        raise Invalid(f"Request body is not well-formed XML: {err}") from None
    if root.getroottree().docinfo.doctype:
        raise Invalid("Request body has a DOCTYPE: DTDs and entity declarations are not accepted")
    encoding = root.getroottree().docinfo.encoding
    if encoding and encoding.upper().replace("_", "-") not in ("UTF-8", "UTF8", "US-ASCII"):
        raise Invalid(f"Request body is encoded as {encoding}; FHIR XML is UTF-8")
    tag = root.tag if isinstance(root.tag, str) else ""
    if not tag.startswith(_FHIR):
        raise Invalid(
            f"The root element {_name(root)} is not in the FHIR namespace {FHIR_NS}"
            if tag
            else "Request body has no root element"
        )
    doc = _resource(root, _Reading(Layout.default(), raw), "")
    if fhir_json.too_deep(doc):
        raise InvalidStructure(
            f"The request body nests elements more than {fhir_json.MAX_DEPTH} levels deep"
        )
    return doc


class _Reading:
    """One body being read: the layout, and the narratives' text as the body wrote it."""

    __slots__ = ("_divs", "layout", "raw")

    def __init__(self, layout: Layout, raw: bytes) -> None:
        self.layout = layout
        self.raw = raw
        self._divs: list[str | None] | None = None

    def children(self, path: str) -> dict[str, Slot]:
        return self.layout.children(path)

    def is_resource(self, type_name: str) -> bool:
        return self.layout.is_resource(type_name)

    def div(self, elem: Any) -> str:
        """A narrative's ``div`` as JSON holds it: its text exactly as the body wrote it (so
        JSON → XML → JSON gives the very string back, ``&quot;`` and ``<p></p>`` as they
        were) when that text is an XHTML div on its own, else lxml's serialization of it.
        The divs are met in document order, the order `_xhtml_spans` lists them in; a text
        that does not stand alone as the very element lxml read is not used."""
        if self._divs is None:
            self._divs = _xhtml_spans(self.raw)
        text = self._divs.pop(0) if self._divs else None
        read = etree.tostring(elem, encoding="unicode", with_tail=False)
        if text is not None and text != read:
            try:
                alone = etree.fromstring(text.encode(), _parser())
            except etree.XMLSyntaxError:
                return read
            if etree.tostring(alone, encoding="unicode") != read:
                return read
        return text if text is not None else read


_DIV_TOKENS = re.compile(
    rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>"
    rb"|<(/?)(?:[A-Za-z_][-\w.]*:)?div(?=[\s/>])((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>",
    re.DOTALL,
)


def _xhtml_spans(raw: bytes) -> list[str | None]:
    """The text of each outermost ``div`` in ``raw`` (None where it is not UTF-8), in document
    order: a scan for div tags (comments and CDATA skipped) over a body lxml has already
    accepted, counting nesting. `_Reading.div` checks each against the element lxml read."""
    spans: list[str | None] = []
    depth = start = 0
    for m in _DIV_TOKENS.finditer(raw):
        closing, attrs = m.group(1), m.group(2)
        if closing is None:  # a comment or CDATA
            continue
        if closing:
            depth -= 1
            if depth != 0:
                continue
        elif attrs.endswith(b"/"):
            if depth != 0:
                continue
            start = m.start()
        else:
            if depth == 0:
                start = m.start()
            depth += 1
            continue
        try:
            spans.append(raw[start : m.end()].decode())
        except UnicodeDecodeError:
            spans.append(None)
    return spans


def _name(elem: Any) -> str:
    tag = elem.tag if isinstance(elem.tag, str) else "?"
    if tag.startswith(_FHIR):
        return tag[len(_FHIR) :]
    return etree.QName(tag).localname if tag.startswith("{") else tag


def _resource(elem: Any, layout: _Reading, where: str) -> dict[str, Any]:
    type_ = elem.tag[len(_FHIR) :]
    here = f"{where}.{type_}" if where else type_
    if not layout.is_resource(type_):
        raise Invalid(f"{here}: {type_} is not an R4 resource type", [where or type_])
    _no_attributes(elem, (), here)
    doc: dict[str, Any] = {"resourceType": type_}
    _children(elem, layout.children(type_), doc, layout, type_ if not where else here)
    return doc


def _no_attributes(elem: Any, allowed: tuple[str, ...], where: str) -> None:
    for key in elem.attrib:
        if key not in allowed and not key.startswith("{"):  # xsi:schemaLocation and the like
            raise Invalid(f"{where} has an attribute {key!r} that R4 does not define", [where])


def _children(
    elem: Any, slots: dict[str, Slot], doc: dict[str, Any], layout: _Reading, where: str
) -> None:
    """``elem``'s child elements into ``doc`` (its attributes are the caller's)."""
    if elem.text is not None and elem.text.strip():
        raise Invalid(f"{where} holds text; R4 puts values in value attributes", [where])
    last = -1
    prims: dict[str, tuple[list[Any], list[Any]]] = {}
    for child in elem:
        tag = child.tag
        if not isinstance(tag, str):
            raise Invalid(f"{where} holds an entity reference or other non-element markup")
        if child.tail is not None and child.tail.strip():
            raise Invalid(f"{where} holds text; R4 puts values in value attributes", [where])
        if tag.startswith(_FHIR):
            name = tag[len(_FHIR) :]
            slot = slots.get(name)
        else:
            name, slot = _name(child), None
            if tag == _XHTML_DIV:
                slot = slots.get("div")
                slot = slot if slot is not None and slot.form is Form.XHTML else None
        if slot is None or slot.form is _ATTRIBUTE:
            raise Invalid(f"{where}.{name} is not an element R4 defines here", [f"{where}.{name}"])
        if slot.order < last:
            raise Invalid(
                f"{where}.{name} is out of order: R4 puts it before the elements above it",
                [f"{where}.{name}"],
            )
        if slot.order == last and not slot.repeats:
            raise Invalid(f"{where}.{name} repeats; R4 allows it once", [f"{where}.{name}"])
        last = slot.order
        form = slot.form
        if form is _PRIMITIVE:
            found = prims.get(name)
            if found is None:
                found = prims[name] = ([], [])
                doc[name] = None  # its place among the others, in document order
            values, extras = found
            value, extra = _primitive(child, slot, layout, where, name)
            values.append(value)
            extras.append(extra)
            continue
        at = f"{where}.{name}[{len(doc.get(name, ()))}]" if slot.repeats else f"{where}.{name}"
        if form is _COMPLEX:
            value = _complex(child, slot, layout, at)
        elif form is _RESOURCE:
            value = _contained(child, layout, at)
        else:
            if child.tag != _XHTML_DIV:
                raise Invalid(f"{at} must be an XHTML <div> in the namespace {XHTML_NS}", [at])
            value = layout.div(child)
        if slot.repeats:
            doc.setdefault(name, []).append(value)
        else:
            doc[name] = value
    for name, (values, extras) in prims.items():
        if slots[name].repeats:
            if any(v is not None for v in values):
                doc[name] = values
            else:
                del doc[name]
            if any(e is not None for e in extras):
                doc["_" + name] = extras
        else:
            if values[0] is not None:
                doc[name] = values[0]
            else:
                del doc[name]
            if extras[0] is not None:
                doc["_" + name] = extras[0]


def _primitive(elem: Any, slot: Slot, layout: _Reading, parent: str, name: str) -> tuple[Any, Any]:
    """A primitive's JSON value (None if it has none) and its ``_name`` object (None if it
    has neither id nor extension); ``parent.name`` is where it is, for errors."""
    raw = ident = None
    for key, text in elem.items():
        if key == "value":
            raw = text
        elif key == "id":
            ident = text
        elif key[0] != "{":
            where = f"{parent}.{name}"
            raise Invalid(f"{where} has an attribute {key!r} that R4 does not define", [where])
    extra: dict[str, Any] | None = None
    if ident is not None:
        extra = {"id": ident}
    if len(elem) or (elem.text is not None and elem.text.strip()):
        extra = extra or {}
        _children(elem, layout.children("Element"), extra, layout, f"{parent}.{name}")
        if ident is not None:
            extra["id"] = ident
    if raw is None:
        if not extra or "extension" not in extra:
            where = f"{parent}.{name}"
            raise Invalid(f"{where} has neither a value nor an extension", [where])
        return None, extra
    if slot.value == "str":
        return raw, extra
    return _value(raw, slot, f"{parent}.{name}"), extra


def _value(raw: str, slot: Slot, where: str) -> Any:
    kind = slot.value
    if kind == "str":
        return raw
    if kind == "bool":
        found = _BOOLEANS.get(raw)
        if found is None:
            raise Invalid(f"{where}: {raw!r} is not a boolean (true or false)", [where])
        return found
    pattern = _INTEGER if kind == "int" else _DECIMAL
    if pattern.fullmatch(raw) is None:
        what = "an integer" if kind == "int" else "a decimal"
        raise Invalid(f"{where}: {raw!r} is not {what}", [where])
    return fhir_json.number(raw)


def _complex(elem: Any, slot: Slot, layout: _Reading, where: str) -> dict[str, Any]:
    slots = layout.children(slot.path)
    doc: dict[str, Any] = {}
    for key, text in elem.items():  # id, and an Extension's url
        found = slots.get(key)
        if found is not None and found.form is _ATTRIBUTE:
            doc[key] = text
        elif key[0] != "{":
            raise Invalid(f"{where} has an attribute {key!r} that R4 does not define", [where])
    _children(elem, slots, doc, layout, where)
    return doc


def _contained(elem: Any, layout: _Reading, where: str) -> dict[str, Any]:
    _no_attributes(elem, (), where)
    if elem.text is not None and elem.text.strip():
        raise Invalid(f"{where} holds text; it holds one resource", [where])
    inner = list(elem)
    if (
        len(inner) != 1
        or not isinstance(inner[0].tag, str)
        or not inner[0].tag.startswith(_FHIR)
        or (inner[0].tail is not None and inner[0].tail.strip())
    ):
        raise Invalid(f"{where} must hold exactly one resource", [where])
    return _resource(inner[0], layout, where)


# ---------------------------------------------------------------------------------------------
# JSON → XML

_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_ATTR_SPECIAL = re.compile('[&<>"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters XML 1.0 cannot hold at all, not even as references: a string stored with
validation off may carry them; written as U+FFFD so the document still parses."""
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>\s*")
_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})


def _attr(value: str) -> str:
    """``value`` as an attribute value: what XML would otherwise change (R4 keeps a string's
    line breaks; an XML parser normalizes literal ones in attributes to spaces) escaped."""
    if _ATTR_SPECIAL.search(value) is None:
        return value
    return (
        _NOT_XML.sub("\ufffd", value)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def _text(value: Any) -> str:
    """A primitive's JSON value as its XML value attribute's text (a number as JSON wrote it)."""
    kind = type(value)
    if kind is str:
        return _attr(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return str(value)
    if kind is fhir_json.ExactNumber:
        return str(value.text)
    if kind is float:
        return orjson.dumps(value).decode()
    return _attr(str(value))


def render_json(body: bytes, pretty: bool = False) -> bytes:
    """A FHIR JSON document's bytes (a stored resource, a Bundle, an OperationOutcome) as FHIR
    XML. A resource's XML is a function of its bytes alone, so small ones are remembered
    (`_remembered`): a version read again is not written again. Read by `fhir_json.loads`:
    orjson, and the exact slow path only when orjson would not write the body back as it is
    (a regex scan for numbers that might not, tried before, cost more than orjson's parse)."""
    if len(body) <= _REMEMBER_BYTES:
        return _remembered(body, pretty)
    return render(fhir_json.loads(body), pretty)


_REMEMBER_BYTES = 16 * 1024


@lru_cache(maxsize=512)
def _remembered(body: bytes, pretty: bool) -> bytes:
    """At most 512 documents of at most 16 KiB each (a few MB at the sizes resources have);
    the key is the content itself, so what one caller is shown can never be another's."""
    return render(fhir_json.loads(body), pretty)


def render(doc: Any, pretty: bool = False) -> bytes:
    """``doc`` (a resource as parsed JSON) as FHIR XML, UTF-8; indented when ``pretty``."""
    type_ = doc.get("resourceType") if isinstance(doc, dict) else None
    if not isinstance(type_, str) or _XML_NAME.fullmatch(type_) is None:
        raise ValueError("only a resource can be written as FHIR XML")
    out: list[str] = []
    if not _LAYOUT:
        _LAYOUT.append(Layout.default())
    writer = _Writer(out, _LAYOUT[0], "  " if pretty else "")
    writer.resource(doc, f' xmlns="{FHIR_NS}"', "")
    if pretty:
        out.append("\n")
    return "".join(out).encode()


_LAYOUT: list[Layout] = []
"""`Layout.default`, kept at hand: the class method's cache costs a microsecond a call."""


# What `_Writer.elements` does with one element of an object, decided once per object shape.
_SIMPLE = 0  # a primitive without a ``_name``: ``<name value="…"/>`` (arg: ``<name value="``)
_WITH_EXTRA = 1  # a primitive with a ``_name`` (id, extensions): `_Writer.primitive`
_OBJECT = 2  # a complex element (arg: its children's slots, its open and close tags)
_NESTED = 3  # a resource inside a resource (arg: the open and close tags)
_DIV = 4  # the narrative's XHTML
_GUESSED = 5  # a name R4 does not define there

Op = tuple[int, str, Any]
Plan = tuple[tuple[str, ...], list[Op]]
"""An object's attributes present (``id``, an Extension's ``url``; in R4 order) and its
elements to write, in R4 order."""

_PLANS: dict[tuple[int, tuple[str, ...]], Plan] = {}
"""What to write for an object, by its path's slots (`Layout.children`, kept for the process's
life, so its id is stable) and its keys: resources of one kind have a handful of shapes, so an
object's keys are sorted into R4 order and classified once per shape, and the tags each element
is written with made then. Bounded by `_MAX_PLANS`."""
_MAX_PLANS = 20_000


def _first(item: tuple[int, str, Slot | None]) -> int:
    return item[0]


def _plan(layout: Layout, slots: dict[str, Slot], keys: tuple[str, ...]) -> Plan:
    """``keys`` (an object's) as the elements to write, in R4 order: a primitive's
    ``_name`` with it, names R4 does not define there (only in content stored without
    validation) after the others, as JSON had them; attributes (``id``, ``url``) are the
    element's own (`_Writer.elements`)."""
    found: list[tuple[int, str, Slot | None]] = []
    attrs: list[tuple[int, str, Slot | None]] = []
    seen: set[str] = set()
    unknown = 1_000_000
    for key in keys:
        if key[:1] == "_":
            key = key[1:]
            if key in keys:
                continue  # with its value
        if key in seen or key == "resourceType":
            continue
        seen.add(key)
        slot = slots.get(key)
        if slot is None:
            if _XML_NAME.fullmatch(key) is None:
                continue  # no XML element can have this name (content stored unvalidated)
            unknown += 1
            found.append((unknown, key, None))
        elif slot.form is not _ATTRIBUTE:
            found.append((slot.order, key, slot))
        elif key in keys:
            attrs.append((slot.order, key, slot))
    found.sort(key=_first)
    attrs.sort(key=_first)
    ops: list[Op] = []
    for _, name, slot in found:
        if slot is None:
            ops.append((_GUESSED, name, None))
        elif slot.form is _PRIMITIVE:
            if "_" + name in keys:
                ops.append((_WITH_EXTRA, name, None))
            else:
                ops.append((_SIMPLE, name, f'<{name} value="'))
        elif slot.form is _COMPLEX:
            ops.append((_OBJECT, name, (layout.children(slot.path), f"<{name}", f"</{name}>")))
        elif slot.form is _RESOURCE:
            ops.append((_NESTED, name, (f"<{name}>", f"</{name}>")))
        else:
            ops.append((_DIV, name, None))
    return tuple(name for _, name, _ in attrs), ops


class _Writer:
    """Writes one document: strings appended to ``out``, joined once. ``pad`` is what goes
    before a tag (a newline and indentation when pretty, else nothing); ``step`` one level."""

    __slots__ = ("layout", "out", "step")

    def __init__(self, out: list[str], layout: Layout, step: str) -> None:
        self.out = out
        self.layout = layout
        self.step = step

    def _inner(self, pad: str) -> str:
        return (pad or "\n") + self.step if self.step else ""

    def plan(self, doc: dict[str, Any], slots: dict[str, Slot]) -> Plan:
        keys = tuple(doc)
        plan = _PLANS.get((id(slots), keys))
        if plan is None:
            plan = _plan(self.layout, slots, keys)
            if len(_PLANS) < _MAX_PLANS:
                _PLANS[id(slots), keys] = plan
        return plan

    def resource(self, doc: dict[str, Any], ns: str, pad: str) -> None:
        type_ = doc["resourceType"]
        if _XML_NAME.fullmatch(type_) is None:  # content stored unvalidated: no element
            return
        self.out.append(f"{pad}<{type_}{ns}>")
        self.children(doc, self.layout.children(type_), self._inner(pad))
        self.out.append(f"{pad}</{type_}>")

    def children(self, doc: dict[str, Any], slots: dict[str, Slot], pad: str) -> None:
        """``doc``'s elements in R4 order (`_plan`)."""
        self.elements(doc, self.plan(doc, slots)[1], pad)

    def elements(self, doc: dict[str, Any], ops: list[Op], pad: str) -> None:
        """``doc``'s elements as ``ops`` (its plan) says; the hot loop of a render, so a
        complex element is written here rather than by a call per element."""
        out = self.out
        append = out.append
        step = self.step
        inner_pad = (pad or "\n") + step if step else ""
        for op, name, arg in ops:
            if op == _SIMPLE:
                value = doc[name]
                kind = type(value)
                if kind is str:
                    if _ATTR_SPECIAL.search(value) is not None:
                        value = _attr(value)
                    append(f'{pad}{arg}{value}"/>')
                elif kind is list:
                    for item in value:
                        if item is not None:
                            append(f'{pad}{arg}{_text(item)}"/>')
                elif value is not None:
                    append(f'{pad}{arg}{_text(value)}"/>')
            elif op == _OBJECT:
                value = doc[name]
                inner, open_, close = arg
                for item in value if type(value) is list else (value,):
                    if type(item) is not dict:
                        self.guessed(name, item, None, pad)
                        continue
                    plan = _PLANS.get((id(inner), tuple(item)))
                    attrs, item_ops = plan if plan is not None else self.plan(item, inner)
                    head = pad + open_
                    for attr in attrs:  # id, and an Extension's url
                        text = item[attr]
                        if type(text) is str:
                            head += f' {attr}="{_attr(text)}"'
                    start = len(out)
                    append(head + ">")
                    self.elements(item, item_ops, inner_pad)
                    if len(out) == start + 1:
                        out[start] = head + "/>"
                    else:
                        append(pad + close)
            elif op == _WITH_EXTRA:
                self.primitive(name, doc.get(name), doc.get("_" + name), pad)
            elif op == _NESTED:
                value = doc[name]
                open_, close = arg
                for item in value if type(value) is list else (value,):
                    if type(item) is dict and type(item.get("resourceType")) is str:
                        append(pad + open_)
                        self.resource(item, "", inner_pad)
                        append(pad + close)
            elif op == _DIV:
                value = doc[name]
                if type(value) is str:
                    append(pad + _xhtml(value))
            else:
                self.guessed(name, doc.get(name), doc.get("_" + name), pad)

    def primitive(self, name: str, value: Any, extra: Any, pad: str) -> None:
        if type(value) is list or type(extra) is list:
            values = value if type(value) is list else []
            extras = extra if type(extra) is list else []
            for i in range(max(len(values), len(extras))):
                self.primitive(
                    name,
                    values[i] if i < len(values) else None,
                    extras[i] if i < len(extras) else None,
                    pad,
                )
            return
        if value is None and not extra:
            return
        head = f"{pad}<{name}"
        if type(extra) is dict and type(extra.get("id")) is str:
            head += f' id="{_attr(extra["id"])}"'
        if value is not None:
            head += f' value="{_text(value)}"'
        inner = {k: v for k, v in extra.items() if k != "id"} if type(extra) is dict else None
        if not inner:
            self.out.append(head + "/>")
            return
        self.out.append(head + ">")
        self.children(inner, self.layout.children("Element"), self._inner(pad))
        self.out.append(f"{pad}</{name}>")

    def guessed(self, name: str, value: Any, extra: Any, pad: str) -> None:
        """An element R4 does not define here (content stored without validation): written
        by the shape of its JSON, so the XML stays well-formed and shows what JSON would."""
        if type(value) is list:
            for item in value:
                self.guessed(name, item, None, pad)
        elif type(value) is dict:
            if type(value.get("resourceType")) is str:
                self.out.append(f"{pad}<{name}>")
                self.resource(value, "", self._inner(pad))
                self.out.append(f"{pad}</{name}>")
            else:
                head = f"{pad}<{name}"
                start = len(self.out)
                self.out.append(head + ">")
                self.children(value, {}, self._inner(pad))
                if len(self.out) == start + 1:
                    self.out[start] = head + "/>"
                else:
                    self.out.append(f"{pad}</{name}>")
        elif value is not None or extra is not None:
            self.primitive(name, value, extra, pad)


@lru_cache(maxsize=1024)
def _xhtml(div: str) -> str:
    """The narrative as XHTML that an XML parser reads back: the stored text as it is when it
    is well-formed XML (what R4 requires of it); HTML's named entities (``&nbsp;``, which the
    JSON narrative rules allow) as character references; markup that is not XML at all as the
    text of an empty ``div`` (R4's XML can hold nothing else). An XML declaration before the
    div is dropped: inside a document none may stand."""
    div = _DECLARATION.sub("", div)
    if _well_formed_div(div):
        return div
    fixed = _NAMED_ENTITY.sub(_entity, div)
    if _well_formed_div(fixed):
        return fixed
    text = _attr(re.sub(r"<[^>]*>", " ", div))
    return f'<div xmlns="{XHTML_NS}">{text}</div>'


def _entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _XML_ENTITIES or name not in name2codepoint:
        return match.group(0)
    return f"&#{name2codepoint[name]};"


def _well_formed_div(div: str) -> bool:
    """Whether ``div`` is one XHTML ``div`` that is well-formed XML with no DOCTYPE: what lxml
    reads back. Checked by expat (no tree built: half the cost of lxml's parse, and a first read
    of a version pays it for its narrative). Where the two could disagree lxml decides: a div
    with so much markup that it could nest deeper than libxml2's limit (256 levels without
    ``huge_tree``), and one with an XML declaration (expat reads ``version="2.0"``).
    tests/unit/test_fhir_xml.py holds the two to the same answers."""
    if "<?xml" in div or div.count("<") >= _LIBXML2_DEPTH:
        return _well_formed_div_lxml(div)
    parser = expat.ParserCreate(None, " ")
    root: list[str] = []

    def start(name: str, attrs: Any) -> None:
        root.append(name)
        parser.StartElementHandler = None

    def doctype(*_: Any) -> None:
        raise _Refused

    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(div.encode(), True)
    except (expat.ExpatError, _Refused):
        return False
    return root == [_EXPAT_XHTML_DIV]


_LIBXML2_DEPTH = 256
_EXPAT_XHTML_DIV = XHTML_NS + " div"


class _Refused(Exception):
    """A DOCTYPE met while checking a narrative: stop reading (R4's XHTML never has one)."""


def _well_formed_div_lxml(div: str) -> bool:
    try:
        root = etree.fromstring(div.encode(), _parser())
    except etree.XMLSyntaxError:
        return False
    return bool(root.tag == _XHTML_DIV and not root.getroottree().docinfo.doctype)
