"""JSON → XML → JSON gives the very document back for every example resource the repository
has (the profiles' examples and definitions, the Danish demo data set) and for MedCom's
published messages; MedCom's published XML messages read and written back are the same XML.

"The very document": equal as parsed JSON, each decimal with its text, and each narrative
``div`` the same string (the XML codec keeps a div's text as the body wrote it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from lxml import etree

from dataset.demo import demo_resources
from fhir_server import fhir_json, fhir_xml
from tests.support import medcom_examples

REPO = Path(__file__).resolve().parents[2]


MEDCOM = medcom_examples.shared_dir()
needs_medcom = pytest.mark.skipif(MEDCOM is None, reason="shared/medcom-examples is not here")


def _exact(doc: Any) -> bytes:
    """A document's JSON with each number's text (so 1.50 and 1.5 differ)."""
    return fhir_json.dumps(doc, option=orjson.OPT_SORT_KEYS)


def assert_round_trip(doc: dict[str, Any]) -> None:
    xml = fhir_xml.render(doc)
    back = fhir_xml.parse(xml)
    assert _exact(back) == _exact(doc)
    assert fhir_xml.parse(fhir_xml.render(doc, pretty=True)) == doc
    assert fhir_xml.render(back) == xml


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if p.name != "manifest.json")


@pytest.mark.parametrize(
    "path",
    _files(REPO / "profiles" / "examples") + _files(REPO / "profiles" / "definitions"),
    ids=lambda p: p.name,
)
def test_profile_examples_and_definitions(path: Path) -> None:
    assert_round_trip(fhir_json.parse_body(path.read_bytes()))


def test_demo_data_set() -> None:
    resources = demo_resources()
    assert len(resources) > 100
    for resource in resources:
        assert_round_trip(fhir_json.parse_body(orjson.dumps(resource)))


def _medcom_json() -> list[Path]:
    return (
        [p for p in _files(MEDCOM) if p.name != "prerequisites.json"] if MEDCOM is not None else []
    )


@needs_medcom
@pytest.mark.parametrize("path", _medcom_json(), ids=lambda p: p.name)
def test_medcom_json_messages(path: Path) -> None:
    doc = fhir_json.parse_body(path.read_bytes())
    assert doc["resourceType"] == "Bundle"
    assert_round_trip(doc)


@needs_medcom
def test_medcom_prerequisites() -> None:
    assert MEDCOM is not None
    lists = json.loads((MEDCOM / "prerequisites.json").read_bytes())
    resources = [r for key in ("Patient", "Organization") for r in lists[key]]
    assert resources
    for resource in resources:
        resource.pop("_from", None)  # the file's note: provenance for readers, not FHIR
        assert_round_trip(fhir_json.parse_body(orjson.dumps(resource)))


def _canonical(xml: bytes) -> bytes:
    """XML as an infoset (whitespace between elements dropped, attribute order and quoting
    normalized): what two writers of the same FHIR XML must agree on."""
    parser = etree.XMLParser(remove_blank_text=True)
    return etree.tostring(etree.fromstring(xml, parser), method="c14n")


def _medcom_xml() -> list[Path]:
    return sorted(MEDCOM.glob("*.xml")) if MEDCOM is not None else []


@needs_medcom
@pytest.mark.parametrize("path", _medcom_xml(), ids=lambda p: p.name)
def test_medcom_xml_messages(path: Path) -> None:
    raw = path.read_bytes()
    doc = fhir_xml.parse(raw)
    assert doc["resourceType"] == "Bundle" and doc["type"] == "message"
    assert doc["entry"][0]["resource"]["resourceType"] == "MessageHeader"
    assert _canonical(fhir_xml.render(doc)) == _canonical(raw)
    assert_round_trip(doc)


@needs_medcom
def test_medcom_xml_duplicate_is_the_json_message_in_a_new_envelope() -> None:
    """cc-new-L (XML) is cc-new-K (JSON) sent again in a new Bundle: read from XML, its
    resources are K's resources, element for element."""
    assert MEDCOM is not None
    k = fhir_json.parse_body((MEDCOM / "cc-new-K.json").read_bytes())
    xml = fhir_xml.parse((MEDCOM / "cc-new-L-duplicate-new-envelope.xml").read_bytes())
    k_entries = {e["fullUrl"]: e["resource"] for e in k["entry"]}
    l_entries = {e["fullUrl"]: e["resource"] for e in xml["entry"]}
    same = [url for url in l_entries if k_entries.get(url) == l_entries[url]]
    assert len(same) >= len(l_entries) - 2, sorted(set(l_entries) - set(same))
