"""Two servers in one process share nothing that changes while they run or that their settings
choose (`fhir_server.services`): custom search parameters, the CapabilityStatement listing them,
and the profiles each requires."""

from __future__ import annotations

import httpx

from fhir_server.config import Settings
from tests.api.conftest import MakeClient
from tests.api.support import app_of, assert_outcome, create, store_example_targets
from tests.api.test_custom_search_parameters import colour_param, coloured, ids
from tests.api.test_profile_enforcement import example, without_profile


def _params(statement: dict[str, object], type_: str) -> list[str]:
    rest = statement["rest"][0]  # type: ignore[index]
    resource = next(r for r in rest["resource"] if r["type"] == type_)
    return [p["name"] for p in resource["searchParam"]]


async def test_a_custom_parameter_is_its_own_servers_only(make_client: MakeClient) -> None:
    one, other = await make_client(), await make_client()
    await create(one, colour_param())
    await app_of(one).services.custom.reindexed()
    await create(one, coloured("Blue", "blue"))
    await create(other, coloured("Blue", "blue"))
    assert len(await ids(one, "Patient?colour=blue")) == 1
    assert "colour" in _params((await one.get("metadata")).json(), "Patient")
    assert_outcome(await other.get("Patient?colour=blue"), 400, "invalid", ["colour"])
    assert "colour" not in _params((await other.get("metadata")).json(), "Patient")


async def test_each_server_requires_its_own_profiles(make_client: MakeClient) -> None:
    """The server started last does not decide what the first one requires."""
    danish = await make_client(required_profiles=Settings().required_profiles)
    plain: httpx.AsyncClient = await make_client()
    await store_example_targets(plain)
    bare = without_profile(example("dk-core-patient-valid-cpr"))
    del bare["identifier"]
    assert_outcome(await danish.post("Patient", json=bare), 422, "required")
    assert (await plain.post("Patient", json=bare)).status_code == 201
