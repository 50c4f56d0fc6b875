"""Helpers for the SMART suite: a browser-like walk through the authorization pages, PKCE,
client assertions signed with real keys, and token decoding against the server's JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jws, jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

BASE = "http://localhost/fhir"
TOKEN_URL = f"{BASE}/auth/token"
REDIRECT = "http://localhost:9000/callback"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PASSWORD = "correct horse battery"
SECRET = "conf-app-secret-0123456789"
EHR_SECRET = "ehr-secret-0123456789"
RS_SECRET = "resource-server-secret-0123"
BACKEND_BASIC_SECRET = "backend-basic-secret-0123"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def form_value(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m is not None, (name, page[:2000])
    return unescape(m.group(1))


def checked_scopes(page: str) -> list[str]:
    return [unescape(v) for v in re.findall(r'name="scope" value="([^"]*)" checked', page)]


def redirect_params(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 302, (resp.status_code, resp.text[:500])
    location = resp.headers["location"]
    assert location.startswith(REDIRECT), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Keys:
    """A client's key pair: the private key signs assertions, ``public`` is registered."""

    private: Any
    alg: str

    @classmethod
    def rsa(cls, alg: str = "RS384") -> Keys:
        key = RSAKey.generate_key(2048, {"alg": alg}, private=True, auto_kid=True)
        return cls(key, alg)

    @classmethod
    def ec(cls) -> Keys:
        return cls(
            ECKey.generate_key("P-384", {"alg": "ES384"}, private=True, auto_kid=True), "ES384"
        )

    @property
    def kid(self) -> str:
        return str(self.private.kid)

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.private.as_dict(private=False)]}

    def assertion(self, client_id: str, **overrides: Any) -> str:
        """A client assertion; ``overrides`` replace claims (None removes one) or, with
        ``header_`` prefixed names, header fields."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": client_id,
            "sub": client_id,
            "aud": TOKEN_URL,
            "exp": now + 240,
            "jti": str(uuid.uuid4()),
        }
        header: dict[str, Any] = {"alg": self.alg, "kid": self.kid, "typ": "JWT"}
        for name, value in overrides.items():
            target, key = (header, name[7:]) if name.startswith("header_") else (claims, name)
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
        return jwt.encode(header, claims, self.private, algorithms=[header["alg"]])

    def form(self, client_id: str, **overrides: Any) -> dict[str, str]:
        return {
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(client_id, **overrides),
        }


def unsigned(client_id: str, kid: str) -> str:
    """An ``alg: none`` JWT (no signature)."""

    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": now + 60, "jti": "x"}
    return f"{part({'alg': 'none', 'kid': kid, 'typ': 'JWT'})}.{part(claims)}."


def header(token: str) -> dict[str, Any]:
    return dict(jws.extract_compact(token.encode()).headers())


def decode(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Verify ``token`` with the server's published keys (RS256 only) and return its claims."""
    return dict(jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"]).claims)


@dataclass
class Authorization:
    """What an app sends to the authorization endpoint."""

    client_id: str
    scope: str
    verifier: str = ""
    challenge: str = ""
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.verifier:
            self.verifier, self.challenge = pkce()

    def params(self) -> dict[str, str]:
        out = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "scope": self.scope,
            "state": self.state,
            "aud": BASE,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
        }
        out.update(self.extra)
        return {k: v for k, v in out.items() if v is not None}


class Browser:
    """A person at the authorization pages (cookies kept by the httpx client)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def start(self, auth: Authorization, **headers: str) -> httpx.Response:
        return await self.client.get("auth/authorize", params=auth.params(), headers=headers)

    async def login(
        self, page: httpx.Response, username: str, password: str = PASSWORD
    ) -> httpx.Response:
        assert page.status_code == 200, page.text[:1000]
        data = {
            "request": form_value(page.text, "request"),
            "username": username,
            "password": password,
        }
        return await self.client.post("auth/login", data=data)

    async def pick(self, page: httpx.Response, patient: str) -> httpx.Response:
        data = {"request": form_value(page.text, "request"), "action": "select", "patient": patient}
        return await self.client.post("auth/patient", data=data)

    async def approve(
        self, page: httpx.Response, scopes: list[str] | None = None, decision: str = "approve"
    ) -> httpx.Response:
        assert page.status_code == 200, page.text[:1000]
        chosen = checked_scopes(page.text) if scopes is None else scopes
        data = {"request": form_value(page.text, "request"), "decision": decision, "scope": chosen}
        return await self.client.post("auth/approve", data=data)

    async def code(
        self, auth: Authorization, username: str, patient: str | None = None
    ) -> dict[str, str]:
        """The whole walk: authorize, log in, (pick a patient), approve; the redirect's params."""
        page = await self.login(await self.start(auth), username)
        if patient is not None:
            page = await self.pick(page, patient)
        return redirect_params(await self.approve(page))
