"""``/openapi.json`` describes the FHIR API from the CapabilityStatement: every served type and
interaction, public like ``/metadata``, loadable as OpenAPI 3 by schemathesis."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import schemathesis

from fhir_server.app import ServerApp
from fhir_server.config import Settings
from fhir_server.resource_types import SERVED_TYPES


async def _get(tmp_path: Path, path: str, **overrides: object) -> httpx.Response:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path}/openapi.db", install_conformance=False, **overrides
    )
    app = ServerApp(settings)
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.get(path)
    finally:
        await app.shutdown()


async def test_openapi_lists_every_type_and_interaction(tmp_path: Path) -> None:
    resp = await _get(tmp_path, "/openapi.json", auth="off")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    doc = resp.json()
    schema = schemathesis.openapi.from_dict(doc)
    schema.validate()  # a valid OpenAPI 3 document
    assert doc["servers"] == [{"url": "/fhir"}]
    paths = doc["paths"]
    for type_ in SERVED_TYPES:
        assert set(paths[f"/{type_}"]) == {"get", "post"}, type_
        assert set(paths[f"/{type_}/{{id}}"]) == {"get", "put", "patch", "delete"}, type_
        assert f"/{type_}/{{id}}/_history/{{vid}}" in paths
        assert f"/{type_}/_history" in paths
        assert f"/{type_}/$validate" in paths
        body = paths[f"/{type_}"]["post"]["requestBody"]["content"]["application/fhir+json"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{type_}"}
        resource = doc["components"]["schemas"][type_]
        assert resource["properties"]["resourceType"] == {"const": type_}
    assert {"get", "post"} == set(paths["/"])  # system search; batch and transaction
    assert "/_history" in paths
    assert "/ValueSet/$expand" in paths
    names = [p["name"] for p in paths["/Patient"]["get"]["parameters"]]
    assert {"birthdate", "identifier", "_id", "_count", "_include"} <= set(names)
    error = paths["/Patient/{id}"]["get"]["responses"]["4XX"]["content"]["application/fhir+json"]
    assert error["schema"] == {"$ref": "#/components/schemas/OperationOutcome"}


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
async def test_openapi_is_public_metadata_with_smart_on(tmp_path: Path, path: str) -> None:
    """No token needed, as for ``/metadata``; the description says the API needs one."""
    resp = await _get(tmp_path, path, auth="smart")
    assert resp.status_code == 200
    if path == "/openapi.json":
        doc = resp.json()
        assert doc["security"] == [{"smart": []}, {"bearer": []}]  # either one
        assert doc["paths"]["/metadata"]["get"]["security"] == []
        assert doc["paths"]["/health"]["get"]["security"] == []
        smart = doc["components"]["securitySchemes"]["smart"]
        assert smart["type"] == "oauth2"
        code = smart["flows"]["authorizationCode"]
        assert code["authorizationUrl"] == "http://testserver/fhir/auth/authorize"
        assert code["tokenUrl"] == "http://testserver/fhir/auth/token"
        assert {"launch/patient", "patient/*.rs", "openid"} <= set(code["scopes"])
        assert not any(s.startswith("system/") for s in code["scopes"])
        backend = smart["flows"]["clientCredentials"]
        assert backend["tokenUrl"] == "http://testserver/fhir/auth/token"
        assert "system/*.rs" in backend["scopes"]
        bearer = doc["components"]["securitySchemes"]["bearer"]
        assert bearer == {**bearer, "type": "http", "scheme": "bearer"}
        schemathesis.openapi.from_dict(doc).validate()
