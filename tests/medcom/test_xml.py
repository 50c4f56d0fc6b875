"""MedCom messages as XML (issue 13: "MedCom's messages travel as XML as often as JSON"):
`$process-message` reads an XML body and answers in XML through the server's one XML codec, with
the same Acknowledgement, the same reliable messaging and the same records as for JSON."""

from __future__ import annotations

from typing import Any

import httpx

from fhir_server import fhir_json, fhir_xml
from medcom.codes import MESSAGE_HEADER_ID
from tests.medcom.conftest import Medcom, ack_of, example, sender_token
from tests.support import medcom_examples

XML = "application/fhir+xml"


async def _send_xml(medcom: Medcom, body: bytes, bundle: Any) -> httpx.Response:
    headers = {**sender_token(bundle), "Content-Type": XML, "Accept": XML}
    return await medcom.client.post("$process-message", content=body, headers=headers)


def _as_json(resp: httpx.Response) -> httpx.Response:
    """The XML answer read back into the JSON a JSON client gets (for ``ack_of``)."""
    assert resp.headers["content-type"].startswith(XML), resp.headers
    doc = fhir_xml.parse(resp.content)
    return httpx.Response(200, content=fhir_json.dumps(doc), headers={"content-type": "json"})


async def test_an_xml_message_is_acknowledged_in_xml_and_filed_once(medcom: Medcom) -> None:
    message = example("cc-new-A.json")
    body = fhir_xml.render(message)
    first = await _send_xml(medcom, body, message)
    code, outcome = ack_of(_as_json(first))
    assert code == "ok", outcome
    counts = await medcom.counts()
    again = await _send_xml(medcom, body, message)
    assert again.content == first.content  # the identical Acknowledgement, in XML
    assert await medcom.counts() == counts
    header = message["entry"][0]["resource"]["id"]
    found = await medcom.search(f"Communication?identifier={MESSAGE_HEADER_ID}|{header}")
    assert len(found) == 1


async def test_the_published_xml_duplicate_of_a_json_message_is_not_filed_twice(
    medcom: Medcom,
) -> None:
    # MedCom's cc-new-L (XML) is cc-new-K (JSON) resent in a new envelope
    k = example("cc-new-K.json")
    assert ack_of(await medcom.send(k))[0] == "ok"
    counts = await medcom.counts()
    raw = medcom_examples.path("cc-new-L-duplicate-new-envelope.xml").read_bytes()
    resp = await _send_xml(medcom, raw, fhir_xml.parse(raw))
    code, outcome = ack_of(_as_json(resp))
    assert code == "ok", outcome
    assert await medcom.counts() == counts


async def test_a_malformed_xml_message_is_refused_with_an_outcome_and_nothing_stored(
    medcom: Medcom,
) -> None:
    counts = await medcom.counts()
    message: dict[str, Any] = example("cc-new-A.json")
    body = fhir_xml.render(message).replace(b"<MessageHeader", b"<MessageHeadr", 1)
    resp = await _send_xml(medcom, body, message)
    assert resp.status_code == 400
    outcome = fhir_xml.parse(resp.content)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "error"
    assert await medcom.counts() == counts
