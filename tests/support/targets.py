"""Placeholders for what a test's resource references: a local reference must name a stored
resource (referential integrity, ``FHIR_REFERENTIAL_INTEGRITY``), and tests about something else
(the care relationship index) write resources whose targets they never need."""

from __future__ import annotations

from typing import Any

import httpx

from fhir_server.references import local_reference, reference_holders


async def store_targets(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """Store a bare resource (an Organization with a name, which R4 requires) at each relative
    ``Type/id`` ``body`` references that was never stored (a deleted one stays deleted)."""
    own = (body.get("resourceType"), body.get("id"))
    for holder in reference_holders(body):
        target = local_reference(holder)
        if target is None or target == own:
            continue
        path = "/".join(target)
        if (await client.get(path)).status_code != 404:
            continue
        placeholder: dict[str, Any] = {"resourceType": target[0], "id": target[1]}
        if target[0] == "Organization":
            placeholder["name"] = target[1]
        resp = await client.put(path, json=placeholder)
        assert resp.status_code == 201, resp.text
