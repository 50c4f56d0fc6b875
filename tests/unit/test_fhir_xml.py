"""The FHIR XML codec (`fhir_server.fhir_xml`) against R4's XML rules (xml.html), and the
layout it reads (`profiles.layout`) against the definitions the validator compiles."""

from __future__ import annotations

import time
from typing import Any

import pytest
from lxml import etree

from fhir_server import fhir_json, fhir_xml
from fhir_server.errors import FhirError
from profiles.elements import Definitions
from profiles.layout import Form, Layout

NS = 'xmlns="http://hl7.org/fhir"'
XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'


def refused(body: str | bytes) -> FhirError:
    with pytest.raises(FhirError) as caught:
        fhir_xml.parse(body.encode() if isinstance(body, str) else body)
    assert caught.value.status == 400
    return caught.value


def test_layout_agrees_with_the_compiled_definitions() -> None:
    """Where the validator compiles a type, the XML layout has the same elements, in the same
    order, repeating alike."""
    definitions, layout = Definitions.default(), Layout.default()
    checked = 0
    for type_ in ("Patient", "Observation", "CarePlan", "Task", "HumanName", "Extension"):
        defined = definitions.elements(type_)
        slots = layout.children(type_)
        assert list(slots) == list(defined), type_
        for name, element in defined.items():
            assert slots[name].repeats == element.repeats, (type_, name)
            checked += 1
    assert checked > 200


def test_primitives_with_id_and_extensions() -> None:
    doc = {
        "resourceType": "Patient",
        "id": "p1",
        "name": [{"id": "n1", "given": ["Jens", None, "Ole"], "_given": [None, {"id": "g"}, None]}],
        "birthDate": "1970-01-01",
        "_birthDate": {"extension": [{"url": "http://x", "valueBoolean": True}]},
        "active": False,
    }
    # an id alone (no extension) is no primitive R4 allows: given[1] needs an extension
    doc["name"][0]["_given"][1]["extension"] = [{"url": "http://y", "valueInteger": -3}]
    xml = fhir_xml.render(doc).decode()
    assert xml.startswith(f'<Patient {NS}><id value="p1"/><active value="false"/>')
    assert '<name id="n1"><given value="Jens"/><given id="g"><extension url="http://y">' in xml
    assert '<valueInteger value="-3"/></extension></given><given value="Ole"/>' in xml
    assert '<birthDate value="1970-01-01"><extension url="http://x">' in xml
    back = fhir_xml.parse(xml.encode())
    assert back == doc
    assert list(back)[:3] == ["resourceType", "id", "active"]  # R4 order


def test_decimals_keep_their_text_both_ways() -> None:
    body = f'<Observation {NS}><status value="final"/><code><text value="x"/></code>'
    body += '<valueQuantity><value value="1.50"/></valueQuantity></Observation>'
    doc = fhir_xml.parse(body.encode())
    value = doc["valueQuantity"]["value"]
    assert value == 1.5 and fhir_json.dumps(value) == b"1.50"
    assert b'<value value="1.50"/>' in fhir_xml.render(doc)
    for text in ("100", "0.010", "1e2", "-0.5", "123456789012345678901234567890"):
        parsed = fhir_json.parse_body(('{"v":' + text + "}").encode())["v"]
        obs = {"resourceType": "Observation", "valueQuantity": {"value": parsed}}
        assert f'<value value="{text}"/>'.encode() in fhir_xml.render(obs)
        again = fhir_xml.parse(fhir_xml.render(obs))["valueQuantity"]["value"]
        assert fhir_json.dumps(again) == text.encode()


def test_attribute_values_keep_line_breaks_and_markup() -> None:
    text = 'line 1\nline 2\r\n\t"quoted" <b> & done'
    doc = {"resourceType": "Patient", "name": [{"text": text}]}
    xml = fhir_xml.render(doc)
    assert b"&#10;" in xml and b"&lt;b&gt;" in xml
    assert fhir_xml.parse(xml) == doc
    assert etree.fromstring(xml)[0][0].get("value") == text  # as any XML parser reads it


def test_narrative_contained_and_nested_resources() -> None:
    div = f'<div {XHTML}><p>A &quot;B&quot; <br></br><img src="x.png"/></p></div>'
    doc = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": {
                    "resourceType": "CarePlan",
                    "text": {"status": "generated", "div": div},
                    "contained": [{"resourceType": "Goal", "id": "g1"}],
                    "status": "active",
                },
            },
            {"resource": {"resourceType": "Parameters", "parameter": [{"name": "n"}]}},
        ],
    }
    xml = fhir_xml.render(doc).decode()
    assert f'<text><status value="generated"/>{div}</text>' in xml  # the div's own text
    assert '<contained><Goal><id value="g1"/></Goal></contained>' in xml
    assert '<resource><Parameters><parameter><name value="n"/>' in xml
    assert fhir_xml.parse(xml.encode()) == doc  # the div string exactly as it was


def test_narrative_that_is_not_xml_still_gives_well_formed_xml() -> None:
    for div, expected in (
        (f"<div {XHTML}>caf&eacute;&nbsp;au lait</div>", "café\u00a0au lait"),
        (f"<div {XHTML}>fish & chips <b>x</b></div>", "fish & chips  x "),
    ):
        doc = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
        root = etree.fromstring(fhir_xml.render(doc))
        shown = root.find("{http://hl7.org/fhir}text/{http://www.w3.org/1999/xhtml}div")
        assert "".join(shown.itertext()).strip() == expected.strip()


_DIVS_TO_CHECK = (
    f"<div {XHTML}><p>a</p></div>",
    f"  <div {XHTML}>x</div>  ",
    f"<!-- c --><div {XHTML}>x</div><?pi x?>",
    f'<?xml version="1.0"?><div {XHTML}>x</div>',
    f'<?xml version="2.0"?><div {XHTML}/>',
    f"<div {XHTML}>&amp;&lt;&#160;&#x41;<![CDATA[<x>]]></div>",
    f"<div {XHTML}>&#0;</div>",
    f"<div {XHTML}>\x0c</div>",
    f"<div {XHTML}><a:b/></div>",
    f'<div {XHTML} xmlns:a="u"><a:b a:c="d"/></div>',
    "<div>x</div>",
    '<div xmlns="http://other">x</div>',
    f"<p {XHTML}>x</p>",
    f"<div {XHTML}><p></div>",
    f"<div {XHTML}></div><div {XHTML}></div>",
    f"<!DOCTYPE div><div {XHTML}/>",
    f'<!DOCTYPE div [<!ENTITY e "x">]><div {XHTML}>&e;</div>',
    f'<div {XHTML} a="1" a="2"/>',
    f'<div {XHTML} xmlns:p="u" xmlns:q="u" p:a="1" q:a="2"/>',
    f'<div {XHTML} xmlns:xml="u"/>',
    f"<div {XHTML}>\ufffe</div>",
    f"\ufeff<div {XHTML}>x</div>",
    '<x:div xmlns:x="http://www.w3.org/1999/xhtml" xml:lang="da"/>',
    f"<div {XHTML}>" + "<b>" * 300 + "</b>" * 300 + "</div>",
    f"<div {XHTML}>" + "<b/>" * 300 + "</div>",
)


@pytest.mark.parametrize("div", _DIVS_TO_CHECK)
def test_a_narrative_is_sent_as_written_exactly_when_lxml_reads_it_as_an_xhtml_div(
    div: str,
) -> None:
    """The renderer's quick well-formedness check (expat) gives lxml's answer, also on the
    edges where the two parsers differ (an XML declaration, nesting beyond libxml2's limit)."""
    try:
        alone = etree.fromstring(div.encode())
        readable = alone.tag == "{http://www.w3.org/1999/xhtml}div"
        readable = readable and not alone.getroottree().docinfo.doctype
    except etree.XMLSyntaxError:
        readable = False
    # a declaration cannot stand inside a document: dropped, so never sent as written
    readable = readable and not div.startswith("<?xml")
    doc = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    xml = fhir_xml.render(doc)
    assert (f'<status value="generated"/>{div}</text>'.encode() in xml) == readable


def test_content_stored_without_validation_is_still_written_well_formed() -> None:
    doc: dict[str, Any] = {
        "resourceType": "Patient",
        "madeUp": {"x": [1, "two"]},
        "_odd": True,
        "": 1,
        "not a name": "x",
        'a<b"': {"c": 1},
        "contained": [{"resourceType": 'x"y'}, {"resourceType": "Goal", "id": "g"}],
        "name": [{"given": "not a list", "_given": "nor this"}, "a string"],
        "text": {"div": 'a\nb<&>"'},
    }
    root = etree.fromstring(fhir_xml.render(doc))
    assert root.find("{http://hl7.org/fhir}madeUp/{http://hl7.org/fhir}x").get("value") == "1"
    assert root.find("{http://hl7.org/fhir}contained/{http://hl7.org/fhir}Goal") is not None


def test_pretty_is_the_same_document_indented() -> None:
    doc = {"resourceType": "Patient", "name": [{"family": "A", "given": ["B"]}]}
    pretty = fhir_xml.render(doc, pretty=True).decode()
    assert pretty.splitlines()[:3] == [f"<Patient {NS}>", "  <name>", '    <family value="A"/>']
    assert fhir_xml.parse(pretty.encode()) == doc


@pytest.mark.parametrize(
    ("body", "words", "expression"),
    [
        ("<Patient", "not well-formed", None),
        ("", "not well-formed", None),
        ("<Patient/>", "namespace", None),
        ('<Patient xmlns="http://hl7.org/fhir/other"/>', "namespace", None),
        (f"<Nonsense {NS}/>", "not an R4 resource type", "Nonsense"),
        (f'<Patient {NS}><foo value="x"/></Patient>', "not an element", "Patient.foo"),
        (
            f'<Patient {NS}><gender value="male"/><active value="true"/></Patient>',
            "out of order",
            "Patient.active",
        ),
        (
            f'<Patient {NS}><gender value="male"/><gender value="female"/></Patient>',
            "R4 allows it once",
            "Patient.gender",
        ),
        (f"<Patient {NS}><active>true</active></Patient>", "holds text", "Patient.active"),
        (f"<Patient {NS}>hello</Patient>", "holds text", "Patient"),
        (f'<Patient {NS}><active value="yes"/></Patient>', "not a boolean", "Patient.active"),
        (
            f'<Patient {NS}><multipleBirthInteger value="2.5"/></Patient>',
            "not an integer",
            "Patient.multipleBirthInteger",
        ),
        (
            f'<Observation {NS}><valueQuantity><value value="1,5"/></valueQuantity></Observation>',
            "not a decimal",
            "Observation.valueQuantity.value",
        ),
        (f"<Patient {NS}><active/></Patient>", "neither a value nor an extension", None),
        (f'<Patient {NS}><active value="true" colour="red"/></Patient>', "attribute", None),
        (
            f'<Patient {NS}><name><family value="a"/></name><name><given value="b" id="1"/>'
            f'<text value="x"/><family value="z"/></name></Patient>',
            "out of order",  # HumanName: use, text, family, given
            "Patient.name[1].text",
        ),
        (
            f"<Patient {NS}><contained><Patient/><Patient/></contained></Patient>",
            "exactly one resource",
            "Patient.contained[0]",
        ),
        (
            f'<Patient {NS}><text><status value="generated"/><div><p>x</p></div></text></Patient>',
            "must be an XHTML <div>",
            "Patient.text.div",
        ),
        (
            f"<Patient {NS}><div {XHTML}>x</div></Patient>",
            "not an element",
            "Patient.div",
        ),
    ],
)
def test_what_r4_xml_does_not_allow_is_400_naming_it(
    body: str, words: str, expression: str | None
) -> None:
    err = refused(body)
    assert words in err.diagnostics, err.diagnostics
    if expression is not None:
        assert list(err.issues[0].expression) == [expression]


def test_dtds_entities_and_bombs_are_refused() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE Patient [<!ENTITY a "aaaaaaaaaa">'
    for i in range(1, 10):
        bomb += f'<!ENTITY {chr(97 + i)} "' + f"&{chr(96 + i)};" * 10 + '">'
    bomb += f']><Patient {NS}><name><text value="&j;"/></name></Patient>'
    started = time.monotonic()
    assert "DOCTYPE" in refused(bomb).diagnostics or "well-formed" in refused(bomb).diagnostics
    assert time.monotonic() - started < 5  # refused, not expanded (a billion 'a's)
    external = (
        '<?xml version="1.0"?><!DOCTYPE Patient [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<Patient {NS}><name><text value="&x;"/></name></Patient>'
    )
    err = refused(external)
    assert "root:" not in err.diagnostics
    doctype_only = f'<!DOCTYPE Patient><Patient {NS}><active value="true"/></Patient>'
    assert "DOCTYPE" in refused(doctype_only).diagnostics
    undeclared = f'<Patient {NS}><name><text value="&nbsp;"/></name></Patient>'
    assert "well-formed" in refused(undeclared).diagnostics


def test_only_utf8() -> None:
    body = f'<?xml version="1.0" encoding="ISO-8859-1"?><Patient {NS}><active value="true"/>'
    assert "UTF-8" in refused(body + "</Patient>").diagnostics
    utf8 = f'<?xml version="1.0" encoding="UTF-8"?><Patient {NS}><name><text value="Søren"/>'
    assert fhir_xml.parse((utf8 + "</name></Patient>").encode())["name"][0]["text"] == "Søren"


def test_nesting_is_bounded() -> None:
    inner = "".join("<extension url='u'>" for _ in range(120))
    inner += '<valueString value="x"/>' + "</extension>" * 120
    err = refused(f"<Patient {NS}>{inner}</Patient>")
    assert "levels deep" in err.diagnostics or "well-formed" in err.diagnostics


def test_comments_and_schema_location_are_ignored() -> None:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><!-- a comment -->'
        f'<Patient {NS} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://hl7.org/fhir patient.xsd">'
        '<!-- another --><active value="true"/></Patient>'
    )
    assert fhir_xml.parse(body.encode()) == {"resourceType": "Patient", "active": True}


def test_every_r4_resource_type_is_known() -> None:
    layout = Layout.default()
    for type_ in ("MessageHeader", "Bundle", "Binary", "OperationOutcome", "Questionnaire"):
        assert layout.is_resource(type_)
    assert not layout.is_resource("Resource") and not layout.is_resource("HumanName")
    assert layout.children("Questionnaire.item")["item"].path == "Questionnaire.item"
    assert layout.children("Extension")["url"].form is Form.ATTRIBUTE
    assert layout.children("Narrative")["div"].form is Form.XHTML
    assert layout.children("Observation")["valueQuantity"].form is Form.COMPLEX
    assert layout.children("Observation.referenceRange")["low"].path == "Quantity"


def test_characters_xml_cannot_hold_never_make_the_output_unreadable() -> None:
    """A stored string or narrative XML 1.0 cannot carry (a form feed, U+FFFE; stored with
    validation off) and a narrative that starts with an XML declaration are written so that the
    document still parses: the characters as U+FFFD, the declaration dropped."""
    patient = {
        "resourceType": "Patient",
        "id": "p",
        "text": {
            "status": "generated",
            "div": '<?xml version="1.0"?><div xmlns="http://www.w3.org/1999/xhtml">ok</div>',
        },
        "name": [{"family": "Hansen\x0c\ufffe"}],
    }
    doc = etree.fromstring(fhir_xml.render(patient))
    ns = {"f": "http://hl7.org/fhir"}
    assert doc.find("f:name/f:family", ns).get("value") == "Hansen\ufffd\ufffd"
    bad_div = {**patient, "text": {"status": "generated", "div": "<p>a\x0cb</p"}}
    etree.fromstring(fhir_xml.render(bad_div))
