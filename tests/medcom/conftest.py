"""The MedCom suites run the real app over real HTTP (ASGI) on every store of the backend
matrix, with the record `record.RECORD` loaded (tests/api's fixtures)."""

from __future__ import annotations

from tests.api.conftest import backend, make_client

__all__ = ["backend", "make_client"]
