"""FHIR XML over real HTTP (issue 13 item 5): every interaction kind in and out in
``application/fhir+xml`` and ``_format=xml``, on every store of the backend matrix.

Requests are written as XML text here (or by the independent R4B models, `fhir.resources`) and
responses read with lxml itself, so the server's codec is checked against XML as others write
and read it, not only against itself.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from lxml import etree

from tests.api.support import assert_outcome, create, patient

NS = "http://hl7.org/fhir"
F = "{" + NS + "}"
FHIR_XML = "application/fhir+xml; charset=utf-8"
XML_BODY = {"Content-Type": "application/fhir+xml", "Accept": "application/fhir+xml"}

PATIENT_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<Patient xmlns="http://hl7.org/fhir">
  <text>
    <status value="generated"/>
    <div xmlns="http://www.w3.org/1999/xhtml"><p>Jens &amp; <b>Hansen</b></p></div>
  </text>
  <extension url="http://example.org/height">
    <valueDecimal value="1.50"/>
  </extension>
  <identifier>
    <system value="urn:oid:1.2.208.176.1.2"/>
    <value value="0101701234"/>
  </identifier>
  <active value="true"/>
  <name id="n1">
    <family value="Hansen"/>
    <given value="Jens"/>
    <given>
      <extension url="http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier">
        <valueCode value="CL"/>
      </extension>
    </given>
  </name>
  <birthDate id="bd" value="1970-01-01">
    <extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime">
      <valueDateTime value="1970-01-01T08:30:00+01:00"/>
    </extension>
  </birthDate>
  <multipleBirthInteger value="2"/>
</Patient>
"""

PATIENT_JSON: dict[str, Any] = {
    "resourceType": "Patient",
    "text": {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Jens &amp; <b>Hansen</b></p></div>',
    },
    "extension": [{"url": "http://example.org/height", "valueDecimal": 1.50}],
    "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": "0101701234"}],
    "active": True,
    "name": [
        {
            "id": "n1",
            "family": "Hansen",
            "given": ["Jens", None],
            "_given": [
                None,
                {
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier",
                            "valueCode": "CL",
                        }
                    ]
                },
            ],
        }
    ],
    "birthDate": "1970-01-01",
    "_birthDate": {
        "id": "bd",
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                "valueDateTime": "1970-01-01T08:30:00+01:00",
            }
        ],
    },
    "multipleBirthInteger": 2,
}


def xml_of(resp: httpx.Response) -> Any:
    """The response's document, read by lxml (not the server's codec)."""
    assert resp.headers["content-type"] == FHIR_XML, (resp.status_code, resp.text)
    return etree.fromstring(resp.content)


def value(root: Any, path: str) -> str | None:
    """The value attribute at a slash path of FHIR element names below ``root``."""
    found = root.find("/".join(F + p for p in path.split("/")))
    return None if found is None else found.get("value")


def strip_meta(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("id", "meta")}


async def test_create_in_xml_is_stored_as_the_same_json(client: httpx.AsyncClient) -> None:
    resp = await client.post("Patient", content=PATIENT_XML, headers=XML_BODY)
    assert resp.status_code == 201, resp.text
    root = xml_of(resp)
    assert root.tag == F + "Patient"
    new_id = value(root, "id")
    assert new_id and resp.headers["location"].endswith(f"/Patient/{new_id}/_history/1")
    # the decimal keeps its text; the primitive's id and extension come back as attribute and child
    assert value(root, "extension/valueDecimal") == "1.50"
    birth = root.find(F + "birthDate")
    assert birth.get("id") == "bd" and birth.get("value") == "1970-01-01"
    assert birth.find(F + "extension").get("url").endswith("patient-birthTime")
    assert root.find(F + "text/{http://www.w3.org/1999/xhtml}div") is not None
    stored = await client.get(f"Patient/{new_id}")
    assert stored.headers["content-type"] == "application/fhir+json; charset=utf-8"
    assert strip_meta(orjson.loads(stored.content)) == strip_meta(PATIENT_JSON)
    assert b'"valueDecimal":1.50' in stored.content


async def test_read_vread_in_xml_by_accept_and_format(client: httpx.AsyncClient) -> None:
    made = await create(client, PATIENT_JSON)
    for kwargs in (
        {"headers": {"Accept": "application/fhir+xml"}},
        {"params": {"_format": "xml"}},
        {"params": {"_format": "application/fhir+xml"}},
        {"headers": {"Accept": "application/json;q=0.5, application/fhir+xml;q=0.9"}},
    ):
        for path in (f"Patient/{made['id']}", f"Patient/{made['id']}/_history/1"):
            resp = await client.get(path, **kwargs)
            assert resp.status_code == 200, kwargs
            root = xml_of(resp)
            assert value(root, "id") == made["id"]
            assert value(root, "meta/versionId") == "1"
            assert resp.headers["etag"] == 'W/"1"'
    for accept, media in (
        ("application/xml", "application/xml; charset=utf-8"),
        ("text/xml", "text/xml; charset=utf-8"),
    ):
        resp = await client.get(f"Patient/{made['id']}", headers={"Accept": accept})
        assert resp.status_code == 200
        assert resp.headers["content-type"] == media
        assert etree.fromstring(resp.content).tag == F + "Patient"


async def test_xml_written_by_another_library_round_trips(client: httpx.AsyncClient) -> None:
    """fhir.resources (an independent R4B implementation) writes the XML; the server stores
    the resource it describes and writes XML that the same library reads back equal."""
    from fhir.resources.R4B.patient import Patient

    doc = orjson.loads(orjson.dumps(PATIENT_JSON))
    del doc["name"][0]["id"], doc["_birthDate"]["id"]  # it writes an element's id as an element
    body = Patient.model_validate(doc).model_dump_xml()
    resp = await client.post("Patient", content=body, headers=XML_BODY)
    assert resp.status_code == 201, resp.text
    back = Patient.model_validate_xml(resp.content)
    assert back.name[0].given[0] == "Jens"
    assert back.birthDate.isoformat() == "1970-01-01"
    assert str(back.extension[0].valueDecimal) in ("1.5", "1.50")


async def test_update_and_conditional_create_in_xml(client: httpx.AsyncClient) -> None:
    made = await create(client, patient("Olsen"))
    body = (
        f'<Patient xmlns="{NS}"><id value="{made["id"]}"/>'
        '<name><family value="Nielsen"/></name></Patient>'
    ).encode()
    resp = await client.put(f"Patient/{made['id']}", content=body, headers=XML_BODY)
    assert resp.status_code == 200, resp.text
    assert value(xml_of(resp), "name/family") == "Nielsen"
    assert value(xml_of(resp), "meta/versionId") == "2"
    # an id in the body that is not the URL's: the same 400 as in JSON
    wrong = body.replace(made["id"].encode(), b"other")
    resp = await client.put(f"Patient/{made['id']}", content=wrong, headers=XML_BODY)
    assert resp.status_code == 400
    assert xml_of(resp).tag == F + "OperationOutcome"


async def test_search_and_history_bundles_in_xml(client: httpx.AsyncClient) -> None:
    a = await create(client, patient("Alpha"))
    await create(client, patient("Beta"))
    resp = await client.get(
        "Patient", params={"family": "Alpha", "_total": "accurate", "_format": "xml"}
    )
    assert resp.status_code == 200
    root = xml_of(resp)
    assert root.tag == F + "Bundle"
    assert value(root, "type") == "searchset"
    assert value(root, "total") == "1"
    entries = root.findall(F + "entry")
    assert [value(e, "resource/Patient/id") for e in entries] == [a["id"]]
    assert value(entries[0], "search/mode") == "match"
    assert root.find(F + "link/" + F + "relation").get("value") == "self"
    hist = xml_of(await client.get(f"Patient/{a['id']}/_history", params={"_format": "xml"}))
    assert value(hist, "type") == "history"
    assert value(hist, "entry/resource/Patient/id") == a["id"]
    # POST _search with a form body, answered in XML
    resp = await client.post(
        "Patient/_search",
        content=b"family=Beta",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/fhir+xml",
        },
    )
    assert value(xml_of(resp), "entry/resource/Patient/name/family") == "Beta"


async def test_transaction_in_xml(client: httpx.AsyncClient) -> None:
    body = f"""<Bundle xmlns="{NS}">
      <type value="transaction"/>
      <entry>
        <fullUrl value="urn:uuid:2b7a5c9e-4f0e-4a53-9d64-4c1a1f4b3e01"/>
        <resource><Patient><name><family value="Tx"/></name></Patient></resource>
        <request><method value="POST"/><url value="Patient"/></request>
      </entry>
      <entry>
        <resource>
          <Observation>
            <status value="final"/>
            <code><text value="weight"/></code>
            <subject><reference value="urn:uuid:2b7a5c9e-4f0e-4a53-9d64-4c1a1f4b3e01"/></subject>
            <valueQuantity><value value="72.50"/><unit value="kg"/></valueQuantity>
          </Observation>
        </resource>
        <request><method value="POST"/><url value="Observation"/></request>
      </entry>
    </Bundle>""".encode()
    resp = await client.post("", content=body, headers=XML_BODY)
    assert resp.status_code == 200, resp.text
    root = xml_of(resp)
    assert value(root, "type") == "transaction-response"
    statuses = [value(e, "response/status") for e in root.findall(F + "entry")]
    assert statuses == ["201 Created", "201 Created"]
    obs_id = root.findall(F + "entry")[1].find(F + "response/" + F + "location").get("value")
    obs = (await client.get(obs_id.split("/_history")[0])).json()
    assert obs["subject"]["reference"].startswith("Patient/")
    assert obs["valueQuantity"]["value"] == 72.5
    raw = (await client.get(obs_id.split("/_history")[0], params={"_format": "xml"})).content
    assert b'<value value="72.50"/>' in raw


async def test_fhirpath_patch_as_xml_parameters(client: httpx.AsyncClient) -> None:
    made = await create(client, patient("Patchy"))
    body = f"""<Parameters xmlns="{NS}">
      <parameter>
        <name value="operation"/>
        <part><name value="type"/><valueCode value="add"/></part>
        <part><name value="path"/><valueString value="Patient"/></part>
        <part><name value="name"/><valueString value="birthDate"/></part>
        <part><name value="value"/><valueDate value="1980-02-03"/></part>
      </parameter>
    </Parameters>""".encode()
    resp = await client.patch(f"Patient/{made['id']}", content=body, headers=XML_BODY)
    assert resp.status_code == 200, resp.text
    assert value(xml_of(resp), "birthDate") == "1980-02-03"


async def test_operations_and_outcomes_in_xml(client: httpx.AsyncClient) -> None:
    # $validate takes a resource (XML in) and answers an OperationOutcome (XML out)
    resp = await client.post("Patient/$validate", content=PATIENT_XML, headers=XML_BODY)
    assert resp.status_code == 200, resp.text
    assert xml_of(resp).tag == F + "OperationOutcome"
    # errors: a 404 in XML, with the issue's code as a value attribute
    resp = await client.get("Patient/missing", headers={"Accept": "application/fhir+xml"})
    assert resp.status_code == 404
    root = xml_of(resp)
    assert value(root, "issue/code") == "not-found"
    assert value(root, "issue/severity") == "error"


async def test_capability_statement_in_xml_lists_xml(client: httpx.AsyncClient) -> None:
    resp = await client.get("metadata", params={"_format": "xml"})
    assert resp.status_code == 200
    root = xml_of(resp)
    assert root.tag == F + "CapabilityStatement"
    formats = [f.get("value") for f in root.findall(F + "format")]
    assert "application/fhir+xml" in formats and "application/fhir+json" in formats
    assert "application/fhir+xml" in (await client.get("metadata")).json()["format"]


async def test_pretty_xml(client: httpx.AsyncClient) -> None:
    made = await create(client, PATIENT_JSON)
    compact = await client.get(f"Patient/{made['id']}", params={"_format": "xml"})
    pretty = await client.get(f"Patient/{made['id']}", params={"_format": "xml", "_pretty": "true"})
    assert b"\n  <id value=" in pretty.content and b"\n" not in compact.content
    parser = etree.XMLParser(remove_blank_text=True)
    assert etree.tostring(etree.fromstring(pretty.content, parser)) == etree.tostring(
        etree.fromstring(compact.content, parser)
    )


async def test_xml_body_answered_in_xml_without_accept(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "Patient", content=PATIENT_XML, headers={"Content-Type": "application/fhir+xml"}
    )
    assert resp.status_code == 201
    assert xml_of(resp).tag == F + "Patient"
    # an explicit preference wins
    resp = await client.post(
        "Patient",
        content=PATIENT_XML,
        headers={"Content-Type": "application/fhir+xml", "Accept": "application/fhir+json"},
    )
    assert resp.headers["content-type"] == "application/fhir+json; charset=utf-8"


async def test_unsupported_formats_are_406_and_415(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    for accept in ("text/html", "application/fhir+xml;q=0", "text/turtle"):
        resp = await client.get(f"Patient/{made['id']}", headers={"Accept": accept})
        assert_outcome(resp, 406, "not-supported")
    resp = await client.get(f"Patient/{made['id']}", params={"_format": "ttl"})
    assert_outcome(resp, 406, "not-supported", ["_format"])
    resp = await client.post("Patient", content=PATIENT_XML, headers={"Content-Type": "text/plain"})
    assert_outcome(resp, 415, "not-supported")


async def _count(client: httpx.AsyncClient, type_: str) -> int:
    resp = await client.get(type_, params={"_total": "accurate", "_summary": "count"})
    total: int = resp.json()["total"]
    return total


async def test_malformed_xml_is_400_naming_the_problem_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE Patient [<!ENTITY a "aaaaaaaaaa">'
    for i in range(1, 10):
        bomb += f'<!ENTITY {chr(97 + i)} "' + f"&{chr(96 + i)};" * 10 + '">'
    bomb += f']><Patient xmlns="{NS}"><name><text value="&j;"/></name></Patient>'
    cases = {
        b"<Patient": ("not well-formed", None),
        b"\xff\xfe<\x00": ("UTF-8", None),
        bomb.encode(): ("DTD", None),
        (
            b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<Patient xmlns="http://hl7.org/fhir"><name><text value="&x;"/></name></Patient>'
        ): ("DTD", None),
        f'<Patient xmlns="{NS}"><colour value="red"/></Patient>'.encode(): (
            "not an element",
            ["Patient.colour"],
        ),
        f'<Patient xmlns="{NS}"><gender value="male"/><active value="true"/></Patient>'.encode(): (
            "out of order",
            ["Patient.active"],
        ),
        f'<Patient xmlns="{NS}"><birthDate/></Patient>'.encode(): (
            "neither a value nor an extension",
            ["Patient.birthDate"],
        ),
        f'<Observation xmlns="{NS}"/>'.encode(): ("", None),  # a body of the wrong type
    }
    for body, (words, expression) in cases.items():
        resp = await client.post(
            "Patient", content=body, headers={"Content-Type": "application/fhir+xml"}
        )
        assert resp.status_code == 400, (body, resp.text)
        outcome = fhir_xml_outcome(resp)
        issue = outcome["issue"][0]
        assert words in issue["diagnostics"], (body, issue)
        assert "root:" not in issue["diagnostics"]
        if expression is not None:
            assert issue["expression"] == expression
    # the same errors in JSON when JSON is asked for
    resp = await client.post(
        "Patient",
        content=b"<Patient",
        headers={"Content-Type": "application/fhir+xml", "Accept": "application/fhir+json"},
    )
    assert_outcome(resp, 400, "invalid")
    assert await _count(client, "Patient") == 0


def fhir_xml_outcome(resp: httpx.Response) -> dict[str, Any]:
    """An XML OperationOutcome's issues as dicts, read with lxml."""
    root = xml_of(resp)
    assert root.tag == F + "OperationOutcome"
    issues = []
    for issue in root.findall(F + "issue"):
        issues.append(
            {
                "severity": value(issue, "severity"),
                "code": value(issue, "code"),
                "diagnostics": value(issue, "diagnostics"),
                "expression": [e.get("value") for e in issue.findall(F + "expression")],
            }
        )
    assert issues and all(i["severity"] == "error" for i in issues)
    return {"issue": issues}


async def test_xml_body_size_is_bounded_as_json_is(make_client: Any) -> None:
    client = await make_client(max_body_bytes=1024)
    big = f'<Patient xmlns="{NS}"><name><text value="{"x" * 2000}"/></name></Patient>'
    resp = await client.post(
        "Patient", content=big.encode(), headers={"Content-Type": "application/fhir+xml"}
    )
    assert resp.status_code == 413
    assert value(xml_of(resp), "issue/code") == "too-long"


async def test_a_failing_xml_transaction_writes_nothing(client: httpx.AsyncClient) -> None:
    body = f"""<Bundle xmlns="{NS}"><type value="transaction"/>
      <entry><resource><Patient><name><family value="Kept"/></name></Patient></resource>
        <request><method value="POST"/><url value="Patient"/></request></entry>
      <entry><resource><Patient><gender value="nonsense"/></Patient></resource>
        <request><method value="POST"/><url value="Patient"/></request></entry>
    </Bundle>""".encode()
    resp = await client.post("", content=body, headers=XML_BODY)
    assert resp.status_code in (400, 422), resp.text
    outcome = fhir_xml_outcome(resp)
    issue = outcome["issue"][0]
    assert issue["diagnostics"].startswith("Bundle.entry[1]: ")
    assert issue["expression"] == ["Patient.gender"]
    assert await _count(client, "Patient") == 0


async def test_validation_errors_name_the_element_in_xml_as_in_json(
    client: httpx.AsyncClient,
) -> None:
    bad_json = {"resourceType": "Patient", "gender": "nonsense"}
    as_json = await client.post("Patient", json=bad_json)
    body = f'<Patient xmlns="{NS}"><gender value="nonsense"/></Patient>'.encode()
    as_xml = await client.post("Patient", content=body, headers=XML_BODY)
    assert as_xml.status_code == as_json.status_code
    expected = as_json.json()["issue"]
    got = fhir_xml_outcome(as_xml)["issue"]
    assert [(i["code"], i.get("expression", [])) for i in expected] == [
        (i["code"], i["expression"]) for i in got
    ]


async def test_operation_with_parameters_in_and_out_in_xml(client: httpx.AsyncClient) -> None:
    body = f"""<Parameters xmlns="{NS}">
      <parameter><name value="url"/>
        <valueUri value="http://faellesforloeb.dk/fhir/ValueSet/ff-careteam-role"/></parameter>
      <parameter><name value="coding"/>
        <valueCoding>
          <system value="http://faellesforloeb.dk/fhir/CodeSystem/ff-careteam-role"/>
          <code value="relative"/>
        </valueCoding>
      </parameter>
    </Parameters>""".encode()
    resp = await client.post("ValueSet/$validate-code", content=body, headers=XML_BODY)
    assert resp.status_code == 200, resp.text
    root = xml_of(resp)
    assert root.tag == F + "Parameters"
    result = [p for p in root.findall(F + "parameter") if value(p, "name") == "result"]
    assert [value(p, "valueBoolean") for p in result] == ["true"]


async def test_batch_in_xml(client: httpx.AsyncClient) -> None:
    made = await create(client, patient("Batch"))
    body = f"""<Bundle xmlns="{NS}"><type value="batch"/>
      <entry><request><method value="GET"/><url value="Patient/{made["id"]}"/></request></entry>
      <entry><request><method value="GET"/><url value="Patient/missing"/></request></entry>
      <entry><resource><Patient><name><family value="New"/></name></Patient></resource>
        <request><method value="POST"/><url value="Patient"/></request></entry>
    </Bundle>""".encode()
    resp = await client.post("", content=body, headers=XML_BODY)
    assert resp.status_code == 200, resp.text
    root = xml_of(resp)
    assert value(root, "type") == "batch-response"
    entries = root.findall(F + "entry")
    assert [value(e, "response/status") for e in entries] == [
        "200 OK",
        "404 Not Found",
        "201 Created",
    ]
    assert value(entries[0], "resource/Patient/name/family") == "Batch"
    outcome = entries[1].find(F + "response/" + F + "outcome/" + F + "OperationOutcome")
    assert value(outcome, "issue/code") == "not-found"
