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

import pyexpat
import re
import threading
from html.entities import name2codepoint
from typing import Any

import orjson
from lxml import etree

from fhir_server import fhir_json
from fhir_server.errors import Invalid, InvalidStructure
from profiles.layout import Form, Layout, Slot

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_FHIR = "{" + FHIR_NS + "}"
_XHTML_DIV = "{" + XHTML_NS + "}div"
_OUTSIDE_ATTRIBUTES = frozenset({"id", "url"})
_BOOLEANS = {"true": True, "false": False}
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_local = threading.local()


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
    problem = _prolog_problem(bytes(body))
    if problem is not None:
        raise Invalid(problem)
    try:
        root = etree.fromstring(bytes(body), _parser())
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
    doc = _resource(root, _Reading(Layout.default(), bytes(body)), "")
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
        The divs are met in document order, the order `_xhtml_spans` lists them in."""
        if self._divs is None:
            self._divs = _xhtml_spans(self.raw)
        text = self._divs.pop(0) if self._divs else None
        if text is not None and _well_formed_div(text):
            return text
        return etree.tostring(elem, encoding="unicode", with_tail=False)


def _xhtml_spans(raw: bytes) -> list[str | None]:
    """The text of each outermost XHTML element in ``raw`` (None where it cannot be cut out),
    in document order. A second, cheap pass over a body lxml has already accepted (no DTD):
    expat reports where each element starts and ends, lxml does not."""
    spans: list[str | None] = []
    parser = pyexpat.ParserCreate(namespace_separator=" ")
    depth = 0
    start = 0

    def started(name: str, _attrs: Any) -> None:
        nonlocal depth, start
        if name.startswith(XHTML_NS + " "):
            if depth == 0:
                start = parser.CurrentByteIndex
            depth += 1

    def ended(name: str) -> None:
        nonlocal depth
        if not name.startswith(XHTML_NS + " "):
            return
        depth -= 1
        if depth:
            return
        at = parser.CurrentByteIndex
        close = raw.find(b">", at)
        tag = raw[at + 2 : close].strip() if raw.startswith(b"</", at) else b""
        if tag == b"div" or tag.endswith(b":div"):
            at = close + 1  # at was the start of </div>
        # else an empty <div/>: at is just past it
        try:
            spans.append(raw[start:at].decode())
        except UnicodeDecodeError:
            spans.append(None)

    parser.StartElementHandler = started
    parser.EndElementHandler = ended
    try:
        parser.Parse(raw, True)
    except pyexpat.ExpatError:
        return []
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
        if slot is None or slot.form is Form.ATTRIBUTE:
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
        if form is Form.PRIMITIVE:
            found = prims.get(name)
            if found is None:
                found = prims[name] = ([], [])
                doc[name] = None  # its place among the others, in document order
            values, extras = found
            value, extra = _primitive(child, slot, layout, f"{where}.{name}")
            values.append(value)
            extras.append(extra)
            continue
        at = f"{where}.{name}[{len(doc.get(name, ()))}]" if slot.repeats else f"{where}.{name}"
        if form is Form.COMPLEX:
            value = _complex(child, slot, layout, at)
        elif form is Form.RESOURCE:
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


def _primitive(elem: Any, slot: Slot, layout: _Reading, where: str) -> tuple[Any, Any]:
    """A primitive's JSON value (None if it has none) and its ``_name`` object (None if it
    has neither id nor extension)."""
    _no_attributes(elem, ("value", "id"), where)
    raw = elem.get("value")
    extra: dict[str, Any] | None = None
    ident = elem.get("id")
    if ident is not None:
        extra = {"id": ident}
    if len(elem) or (elem.text is not None and elem.text.strip()):
        extra = extra or {}
        _children(elem, layout.children("Element"), extra, layout, where)
        if ident is not None:
            extra["id"] = ident
    if raw is None:
        if not extra or "extension" not in extra:
            raise Invalid(f"{where} has neither a value nor an extension", [where])
        return None, extra
    return _value(raw, slot, where), extra


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
    allowed = tuple(n for n, s in slots.items() if s.form is Form.ATTRIBUTE)
    _no_attributes(elem, allowed, where)
    doc: dict[str, Any] = {}
    for name in allowed:  # id, and an Extension's url
        value = elem.get(name)
        if value is not None:
            doc[name] = value
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

_ATTR_SPECIAL = re.compile(r'[&<>"\n\r\t]')
_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})


def _attr(value: str) -> str:
    """``value`` as an attribute value: what XML would otherwise change (R4 keeps a string's
    line breaks; an XML parser normalizes literal ones in attributes to spaces) escaped."""
    if _ATTR_SPECIAL.search(value) is None:
        return value
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _attr(value)
    if type(value) is int:
        return str(value)
    if isinstance(value, fhir_json.ExactNumber):
        return value.text
    if isinstance(value, float):
        return orjson.dumps(value).decode()
    return _attr(str(value))


def render(doc: Any, pretty: bool = False) -> bytes:
    """``doc`` (a resource as parsed JSON) as FHIR XML, UTF-8; indented when ``pretty``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
        raise ValueError("only a resource can be written as FHIR XML")
    out: list[str] = []
    _write_resource(out, doc, Layout.default(), f' xmlns="{FHIR_NS}"', 0 if pretty else -1)
    if pretty:
        out.append("\n")
    return "".join(out).encode()


def _indent(depth: int) -> str:
    return "\n" + "  " * depth if depth > 0 else ""


def _write_resource(out: list[str], doc: dict[str, Any], layout: Layout, ns: str, d: int) -> None:
    type_ = doc["resourceType"]
    out.append(f"{_indent(d)}<{type_}{ns}>")
    _write_children(out, doc, layout.children(type_), layout, d + 1 if d >= 0 else -1)
    out.append(f"{_indent(d)}</{type_}>")


def _ordered(doc: dict[str, Any], slots: dict[str, Slot]) -> list[tuple[int, str, Slot | None]]:
    """``doc``'s elements in R4 order, a primitive's ``_name`` with it; names R4 does not
    define (only in content stored without validation) after them, as JSON had them."""
    found: dict[str, tuple[int, str, Slot | None]] = {}
    for key in doc:
        name = key[1:] if key[:1] == "_" else key
        if name in found or name == "resourceType":
            continue
        slot = slots.get(name)
        found[name] = (slot.order if slot is not None else 1_000_000 + len(found), name, slot)
    return sorted(found.values(), key=_first)


def _first(item: tuple[int, str, Slot | None]) -> int:
    return item[0]


def _write_children(
    out: list[str], doc: dict[str, Any], slots: dict[str, Slot], layout: Layout, d: int
) -> None:
    for _, name, slot in _ordered(doc, slots):
        if slot is None:
            _write_guessed(out, name, doc.get(name), doc.get("_" + name), layout, d)
            continue
        form = slot.form
        if form is Form.ATTRIBUTE:
            continue
        value = doc.get(name)
        if form is Form.PRIMITIVE:
            _write_primitive(out, name, value, doc.get("_" + name), layout, d)
        elif form is Form.COMPLEX:
            for item in value if isinstance(value, list) else (value,):
                _write_complex(out, name, item, layout.children(slot.path), layout, d)
        elif form is Form.RESOURCE:
            for item in value if isinstance(value, list) else (value,):
                if isinstance(item, dict) and isinstance(item.get("resourceType"), str):
                    out.append(f"{_indent(d)}<{name}>")
                    _write_resource(out, item, layout, "", d + 1 if d >= 0 else -1)
                    out.append(f"{_indent(d)}</{name}>")
        elif isinstance(value, str):
            out.append(_indent(d) + _xhtml(value))


def _write_primitive(
    out: list[str], name: str, value: Any, extra: Any, layout: Layout, d: int
) -> None:
    if isinstance(value, list) or isinstance(extra, list):
        values = value if isinstance(value, list) else []
        extras = extra if isinstance(extra, list) else []
        for i in range(max(len(values), len(extras))):
            _write_primitive(
                out,
                name,
                values[i] if i < len(values) else None,
                extras[i] if i < len(extras) else None,
                layout,
                d,
            )
        return
    if value is None and not extra:
        return
    head = f"{_indent(d)}<{name}"
    if isinstance(extra, dict) and isinstance(extra.get("id"), str):
        head += f' id="{_attr(extra["id"])}"'
    if value is not None:
        head += f' value="{_text(value)}"'
    inner = {k: v for k, v in extra.items() if k != "id"} if isinstance(extra, dict) else None
    if not inner:
        out.append(head + "/>")
        return
    out.append(head + ">")
    _write_children(out, inner, layout.children("Element"), layout, d + 1 if d >= 0 else -1)
    out.append(f"{_indent(d)}</{name}>")


def _write_complex(
    out: list[str], name: str, doc: Any, slots: dict[str, Slot], layout: Layout, d: int
) -> None:
    if not isinstance(doc, dict):
        _write_guessed(out, name, doc, None, layout, d)
        return
    head = f"{_indent(d)}<{name}"
    ident, url = doc.get("id"), doc.get("url")
    if isinstance(ident, str) and "id" in slots and slots["id"].form is Form.ATTRIBUTE:
        head += f' id="{_attr(ident)}"'
    if isinstance(url, str) and "url" in slots and slots["url"].form is Form.ATTRIBUTE:
        head += f' url="{_attr(url)}"'
    start = len(out)
    out.append(head + ">")
    _write_children(out, doc, slots, layout, d + 1 if d >= 0 else -1)
    if len(out) == start + 1:
        out[start] = head + "/>"
    else:
        out.append(f"{_indent(d)}</{name}>")


def _write_guessed(
    out: list[str], name: str, value: Any, extra: Any, layout: Layout, d: int
) -> None:
    """An element R4 does not define here (content stored without validation): written by
    the shape of its JSON, so the XML stays well-formed and shows what JSON would."""
    if isinstance(value, list):
        for item in value:
            _write_guessed(out, name, item, None, layout, d)
    elif isinstance(value, dict):
        if isinstance(value.get("resourceType"), str):
            out.append(f"{_indent(d)}<{name}>")
            _write_resource(out, value, layout, "", d + 1 if d >= 0 else -1)
            out.append(f"{_indent(d)}</{name}>")
        else:
            _write_complex(out, name, value, {}, layout, d)
    elif value is not None or extra is not None:
        _write_primitive(out, name, value, extra, layout, d)


def _xhtml(div: str) -> str:
    """The narrative as XHTML that an XML parser reads back: the stored text as it is when it
    is well-formed XML (what R4 requires of it); HTML's named entities (``&nbsp;``, which the
    JSON narrative rules allow) as character references; markup that is not XML at all as the
    text of an empty ``div`` (R4's XML can hold nothing else)."""
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
    try:
        root = etree.fromstring(div.encode(), _parser())
    except etree.XMLSyntaxError:
        return False
    return bool(root.tag == _XHTML_DIV and not root.getroottree().docinfo.doctype)
