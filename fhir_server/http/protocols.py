"""uvicorn's HTTP/1.1 protocols, answering a request they cannot parse with an
OperationOutcome instead of uvicorn's plain-text ``Invalid HTTP request received.``.

Such a request never reaches the application: the parser (httptools, else h11) refuses it
— a ``Content-Length`` that is not a number, a request line or header block over the parser's
limit (a 100 KB URL, a search with 10,000 parameters), bytes HTTP/1.1 does not allow — and
uvicorn answers 400 and closes the connection. Only that answer's body is ours: the parser does
not say which rule was broken, so the OperationOutcome names the likely causes; the status
stays 400 (not 413/414/431, which would need the parser's reason); uvicorn still logs its
one-line warning, which carries no request data.
"""

from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from fhir_server import fhir_json

MALFORMED = fhir_json.dumps(
    {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "structure",
                "diagnostics": (
                    "Malformed HTTP request: its request line or headers could not be read"
                    " (a Content-Length that is not a number, a URL or headers too long —"
                    " send a long search as POST [type]/_search with a form body —, or"
                    " characters HTTP/1.1 does not allow). Nothing was done."
                ),
            }
        ],
    }
)
_HEADERS = [
    (b"content-type", b"application/fhir+json; charset=utf-8"),
    (b"content-length", str(len(MALFORMED)).encode()),
    (b"connection", b"close"),
]


class H11WithOutcome(H11Protocol):
    """``--http h11`` (pure Python)."""

    def send_400_response(self, msg: str) -> None:
        event = h11.Response(status_code=400, headers=_HEADERS, reason=b"Bad Request")
        self.transport.write(self.conn.send(event) or b"")
        self.transport.write(self.conn.send(h11.Data(data=MALFORMED)) or b"")
        self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        self.transport.close()


class HttpToolsWithOutcome(HttpToolsProtocol):
    """uvicorn's default protocol (httptools, installed with ``uvicorn[standard]``)."""

    def send_400_response(self, msg: str) -> None:
        content = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in [*self.server_state.default_headers, *_HEADERS]:
            content += [name, b": ", value, b"\r\n"]
        self.transport.write(b"".join([*content, b"\r\n", MALFORMED]))
        self.transport.close()
