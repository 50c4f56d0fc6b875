"""`_summary` and `_elements` are one rule (fhir_server/representation.py) wherever a resource
goes out: a read, a search Bundle's entries, and a batch Bundle's response entries show the same
subset of the same resource, and refuse the same values alike."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.support import assert_outcome, create, patient


async def _shown(client: httpx.AsyncClient, id_: str, query: str) -> dict[str, list[Any]]:
    """The resource as a read, a search entry and a batch entry show it."""
    read = (await client.get(f"Patient/{id_}?{query}")).json()
    found = (await client.get(f"Patient?_id={id_}&{query}")).json()
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": f"Patient/{id_}?{query}"}}],
    }
    answered = (await client.post("", json=batch)).json()
    return {
        "read": read,
        "search": found["entry"][0]["resource"],
        "batch": answered["entry"][0]["resource"],
    }


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("_elements=gender", ["gender", "id", "meta", "resourceType"]),
        ("_summary=true&_elements=name", ["id", "meta", "name", "resourceType"]),
        ("_summary=data", ["active", "gender", "id", "identifier", "meta", "name", "resourceType"]),
    ],
)
async def test_a_read_a_search_entry_and_a_batch_entry_show_the_same_subset(
    client: httpx.AsyncClient, query: str, keys: list[str]
) -> None:
    made = await create(
        client,
        patient(
            "Hansen",
            "0101010101",
            gender="male",
            active=True,
            text={
                "status": "generated",
                "div": '<div xmlns="http://www.w3.org/1999/xhtml">H</div>',
            },
        ),
    )
    shown = await _shown(client, made["id"], query)
    for where, resource in shown.items():
        assert sorted(resource) == keys, where
        assert resource["meta"]["tag"][-1]["code"] == "SUBSETTED", where
    assert shown["read"] == shown["search"] == shown["batch"]


@pytest.mark.parametrize(
    ("query", "expression"), [("_elements=%20,%20", "_elements"), ("_summary=most", "_summary")]
)
async def test_a_read_and_a_search_refuse_the_same_values(
    client: httpx.AsyncClient, query: str, expression: str
) -> None:
    made = await create(client, patient("Hansen"))
    for url in (f"Patient/{made['id']}?{query}", f"Patient?_id={made['id']}&{query}"):
        assert_outcome(await client.get(url), 400, "invalid", [expression])
