"""Search helpers: run a query and return the matched ids, or the error response."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.support import assert_outcome

Query = str | list[tuple[str, str]]


def pairs(query: Query) -> list[tuple[str, str]]:
    """``"a=1&b=x|y"`` → [("a", "1"), ("b", "x|y")], taken literally (no percent-decoding, so
    ``+`` is a plus and ``\\,`` an escaped comma); httpx encodes the values on the way out."""
    if isinstance(query, list):
        return query
    out = []
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        assert sep, f"no '=' in {part!r}"
        out.append((name, value))
    return out


class Searcher:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def bundle(self, type_: str, query: Query) -> dict[str, Any]:
        resp = await self.client.get(type_, params=pairs(query))
        assert resp.status_code == 200, (type_, query, resp.status_code, resp.text)
        body: dict[str, Any] = resp.json()
        assert body["resourceType"] == "Bundle" and body["type"] == "searchset", body
        assert all(e["resource"]["resourceType"] == type_ for e in body.get("entry", []))
        return body

    async def ids(self, type_: str, query: Query) -> list[str]:
        """The matched ids, in the order returned (which must be id order)."""
        body = await self.bundle(type_, query)
        found = [e["resource"]["id"] for e in body.get("entry", [])]
        assert found == sorted(found), found
        return found

    async def error(
        self,
        type_: str,
        query: Query,
        expression: list[str],
        status: int = 400,
        code: str = "invalid",
    ) -> dict[str, Any]:
        """The search is refused with ``status``/``code`` naming ``expression``."""
        resp = await self.client.get(type_, params=pairs(query))
        return assert_outcome(resp, status, code, expression)
