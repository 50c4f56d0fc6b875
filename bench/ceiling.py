"""The ceiling: a raw ASGI app answering the benchmark's URLs with the very bytes (status,
headers, body) the FHIR server sent for them, so the only work left is uvicorn's own.

Served as ``uvicorn bench.ceiling:app`` with the FHIR server's settings; it reads its answers
from the pickle named by ``BENCH_CEILING_DATA``: {path: (status, [(name, value)], body)}.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]

with open(os.environ["BENCH_CEILING_DATA"], "rb") as fh:
    ANSWERS: dict[str, Answer] = pickle.load(fh)

NOT_FOUND: Answer = (404, [(b"content-length", b"0")], b"")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    status, headers, body = ANSWERS.get(scope["path"], NOT_FOUND)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
