"""401: requests without a valid access token (RFC 6750), and what stays public."""

from __future__ import annotations

import base64
import time

import orjson
import pytest

from auth.verify import TokenError, TokenVerifier, external_issuer, own_issuer
from tests.api.support import BASE
from tests.auth.conftest import OTHER_KEY, Revocations, Server, TestKeys, issue, mint

READ = "system/*.rs"  # user/ scopes need a fhirUser; these tests are about the token
OTHER_KEY_PUBLIC = {**OTHER_KEY.as_dict(private=False), "kid": "old-1"}


async def _refused(server: Server, token: str | None, code: str = "security") -> str:
    resp = await server.get("Patient/p1", token)
    assert resp.status_code == 401, resp.text
    assert issue(resp)["code"] == code
    return resp.headers["www-authenticate"]


async def test_no_token(server: Server) -> None:
    header = await _refused(server, None, "login")
    assert header == 'Bearer realm="fhir"'  # RFC 6750 §3.1: no error code without credentials


async def test_a_valid_token_reads(server: Server) -> None:
    resp = await server.get("Patient/p1", mint(READ))
    assert resp.status_code == 200 and resp.json()["id"] == "p1"


async def test_expired(server: Server) -> None:
    now = int(time.time())
    header = await _refused(server, mint(READ, iat=now - 7200, exp=now - 3600), "expired")
    assert header.startswith('Bearer realm="fhir", error="invalid_token"')
    assert "expired" in header


async def test_wrong_audience(server: Server) -> None:
    header = await _refused(server, mint(READ, aud="https://elsewhere.example/fhir"))
    assert 'error="invalid_token"' in header and "aud" in header


async def test_audience_list_naming_this_server(server: Server) -> None:
    token = mint(READ, aud=["https://elsewhere.example/fhir", "http://testserver/fhir"])
    assert (await server.get("Patient/p1", token)).status_code == 200


async def test_wrong_issuer(server: Server) -> None:
    await _refused(server, mint(READ, iss="https://idp.example/"))


async def test_bad_signature(server: Server) -> None:
    await _refused(server, mint(READ, key=OTHER_KEY))


async def test_tampered_payload_under_a_valid_signature(server: Server) -> None:
    """A payload widened after signing must fail, even right after the genuine token was
    accepted (and cached)."""
    genuine = mint("system/Patient.rs")
    assert (await server.get("Patient/p1", genuine)).status_code == 200
    head, payload, sig = genuine.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "system/*.cruds"
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    await _refused(server, f"{head}.{forged}.{sig}")


def _unsigned(alg: str) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": "http://testserver/fhir", "aud": "http://testserver/fhir", "exp": now + 60}
    return f"{part({'alg': alg, 'kid': 'test-1'})}.{part({**claims, 'scope': 'system/*.*'})}."


@pytest.mark.parametrize("alg", ["none", "None"])
async def test_alg_none(server: Server, alg: str) -> None:
    await _refused(server, _unsigned(alg))
    await _refused(server, _unsigned(alg) + "c2ln")


async def test_hmac_with_the_public_key_is_refused(server: Server) -> None:
    header = {"alg": "HS256", "kid": "test-1"}
    from joserfc.jwk import OctKey

    token = mint(READ, key=OctKey.import_key(b"k" * 32), header=header)  # type: ignore[arg-type]
    await _refused(server, token)


async def test_unknown_kid(server: Server) -> None:
    await _refused(server, mint(READ, header={"alg": "RS256", "kid": "rotated-away"}))


async def test_revocation_takes_effect_on_the_next_use() -> None:
    """A token in use (and remembered as verified) is refused as soon as the revocation
    source says its jti is revoked: the verifier asks on every use."""
    revocations = Revocations()
    verifier = TokenVerifier([own_issuer(TestKeys())], revocations.is_revoked)
    token = mint(READ, jti="jti-to-revoke")
    assert (await verifier.verify(token, BASE))["jti"] == "jti-to-revoke"
    revocations.revoked.add("jti-to-revoke")
    with pytest.raises(TokenError) as err:
        await verifier.verify(token, BASE)
    assert err.value.code == "revoked"


async def test_a_cached_token_still_expires() -> None:
    now = [time.time()]
    verifier = TokenVerifier([own_issuer(TestKeys())], None, lambda: now[0])
    token = mint(READ, exp=int(now[0]) + 60)
    await verifier.verify(token, BASE)
    now[0] += 120
    with pytest.raises(TokenError) as err:
        await verifier.verify(token, BASE)
    assert err.value.code == "expired"


async def test_revoked_before_first_use(server: Server) -> None:
    server.revocations.revoked.add("revoked-early")
    header = await _refused(server, mint(READ, jti="revoked-early"))
    assert "revoked" in header


@pytest.mark.parametrize(
    "value",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer not-a-jwt", "Bearer a.b.c", "Token x"],
)
async def test_malformed_authorization(server: Server, value: str) -> None:
    resp = await server.client.get("Patient/p1", headers={"Authorization": value})
    assert resp.status_code == 401
    assert 'error="invalid_token"' in resp.headers["www-authenticate"]


async def test_missing_exp(server: Server) -> None:
    await _refused(server, mint(READ, exp=None))


async def test_not_yet_valid(server: Server) -> None:
    await _refused(server, mint(READ, nbf=int(time.time()) + 600))


async def test_every_interaction_needs_a_token(server: Server) -> None:
    for method, url in [
        ("GET", "CarePlan"),
        ("GET", "CarePlan/cp1/_history"),
        ("GET", "_history"),
        ("POST", "CarePlan"),
        ("PUT", "CarePlan/cp1"),
        ("DELETE", "CarePlan/cp1"),
        ("POST", ""),
        ("GET", "ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/administrative-gender"),
    ]:
        resp = await server.send(method, url, None, {"resourceType": "CarePlan"})
        assert resp.status_code == 401, (method, url, resp.text)


async def test_the_capability_statement_is_public(server: Server) -> None:
    resp = await server.get("metadata", None)
    assert resp.status_code == 200
    assert resp.json()["resourceType"] == "CapabilityStatement"


async def test_a_rotated_key_is_fetched_from_the_key_store() -> None:
    """A token signed with a key this process has not seen yet (another process rotated):
    the key store is asked to reload (``refresh_for``) before the token is refused."""

    class Rotating:
        def __init__(self) -> None:
            self.jwks: dict[str, object] = {"keys": [OTHER_KEY_PUBLIC]}
            self.asked: list[str] = []

        def public_jwks(self) -> dict[str, object]:
            return self.jwks

        async def refresh_for(self, kid: str) -> bool:
            self.asked.append(kid)
            self.jwks = TestKeys().public_jwks()
            return True

    keys = Rotating()
    verifier = TokenVerifier([own_issuer(keys)])
    claims = await verifier.verify(mint(READ, header={"alg": "RS256", "kid": "test-1"}), BASE)
    assert claims["scope"] == READ and keys.asked == ["test-1"]


def test_issuer_settings_claim_names() -> None:
    issuer = external_issuer(
        {
            "issuer": "https://idp.example.dk/",
            "jwks_uri": "https://idp.example.dk/jwks",
            "algorithms": ["RS256", "HS256"],
            "claims": {"subject": "oid", "fhir_user": "fhir_user", "scope": "scp"},
        }
    )
    assert issuer.issuer == "https://idp.example.dk"
    mapped = {k: issuer.claims[k] for k in ("sub", "fhirUser", "scope", "client_id")}
    assert mapped == {
        "sub": "oid",
        "fhirUser": "fhir_user",
        "scope": "scp",
        "client_id": "client_id",
    }
    assert issuer.algorithms == ("RS256",)  # HMAC is never accepted
    with pytest.raises(ValueError, match="jwks_uri"):
        external_issuer({"issuer": "https://idp.example.dk"})


async def test_a_token_for_another_base_names_this_base_and_fhir_base_url(server: Server) -> None:
    """A token issued on ``127.0.0.1`` used on another host name (here ``testserver``): the
    answer says which base this request has and how to make the two agree."""
    other = "http://127.0.0.1:8000/fhir"
    resp = await server.get("Patient/p1", mint(READ, iss=other, aud=other))
    assert resp.status_code == 401
    said = issue(resp)["diagnostics"]
    assert other in said and BASE in said and "FHIR_BASE_URL" in said
    assert "FHIR_BASE_URL" in resp.headers["www-authenticate"]
