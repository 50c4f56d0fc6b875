"""EHR launch: the EHR (a client registered with ``--may-launch``) creates a launch context —
patient, encounter, banner and style preferences — and opens the app with
``?iss=<FHIR base>&launch=<id>``; the app's authorization request carries that ``launch`` back,
and the tokens carry the context.

``POST {base}/auth/launch`` with a JSON body::

    {"patient": "123", "encounter": "e1", "client_id": "the-app", "user": "anne",
     "need_patient_banner": false, "smart_style_url": "https://ehr.example/style.json"}

authenticated with the EHR's HTTP Basic client secret or a bearer access token issued to it.
The answer (201) holds ``launch``, ``iss``, ``expires_in`` and, when the app registered a
``launch_uri``, the ``launch_url`` to open. A launch names existing resources (400 otherwise);
with ``client_id`` it serves only that app, with ``user`` only that user (otherwise any
clinician, and a citizen or relative only for their own patient); it is usable until it expires
(``FHIR_LAUNCH_SECONDS``), so an app reloaded inside the EHR can authorize again.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson
from authlib.oauth2.rfc6749.util import extract_basic_authorization

if TYPE_CHECKING:
    from auth.clients import Client
    from auth.smart.server import SmartServer

LAUNCH = "launch"


class LaunchError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


async def find_launch(smart: SmartServer, launch_id: str) -> dict[str, Any] | None:
    found = await smart.records.get(LAUNCH, launch_id)
    return found.doc if found else None


async def caller(smart: SmartServer, headers: Mapping[str, str]) -> Client:
    """The EHR calling the launch API: a ``--may-launch`` client, by secret or bearer token."""
    auth = headers.get("Authorization") or ""
    client: Client | None = None
    if auth[:7].lower() == "bearer ":
        claims = await smart.issuer.own_claims(auth[7:].strip())
        if claims is not None and not await smart.revocations.is_revoked(claims["jti"]):
            client = await smart.clients.get(claims["client_id"])
    else:
        # authlib only calls ``headers.get``; a dict copy would lose case-insensitive lookup
        client_id, secret = extract_basic_authorization(headers)  # type: ignore[arg-type]
        if client_id and secret:
            found = await smart.clients.get(client_id)
            client = found if found and found.check_client_secret(secret) else None
    if client is None:
        raise LaunchError(401, "invalid_client", "Authenticate as the EHR client")
    if not client.may_launch:
        raise LaunchError(403, "unauthorized_client", "This client may not create launches")
    return client


async def _resource(smart: SmartServer, type_: str, id_: str) -> dict[str, Any] | None:
    stored = await smart.fhir_store.read(type_, id_)
    if stored is None or stored.deleted or stored.content is None:
        return None
    doc: dict[str, Any] = orjson.loads(stored.content)
    return doc


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise LaunchError(400, "invalid_request", f"'{name}' must be a non-empty string")
    return value


async def _context(smart: SmartServer, body: dict[str, Any]) -> dict[str, Any]:
    patient, encounter = _text(body, "patient"), _text(body, "encounter")
    if patient is not None and await _resource(smart, "Patient", patient) is None:
        raise LaunchError(400, "invalid_request", f"No Patient/{patient}")
    if encounter is not None:
        found = await _resource(smart, "Encounter", encounter)
        if found is None:
            raise LaunchError(400, "invalid_request", f"No Encounter/{encounter}")
        subject = (found.get("subject") or {}).get("reference")
        if patient is not None and subject != f"Patient/{patient}":
            raise LaunchError(400, "invalid_request", f"Encounter/{encounter} is not the patient's")
    banner = body.get("need_patient_banner", True)
    if not isinstance(banner, bool):
        raise LaunchError(400, "invalid_request", "'need_patient_banner' must be true or false")
    user = _text(body, "user")
    if user is not None and await smart.users.get(user) is None:
        raise LaunchError(400, "invalid_request", f"No user {user!r}")
    return {
        "patient": patient,
        "encounter": encounter,
        "user": user,
        "client_id": _text(body, "client_id"),
        "need_patient_banner": banner,
        "smart_style_url": _text(body, "smart_style_url"),
    }


async def create_launch(smart: SmartServer, ehr: Client, body: Any, base: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise LaunchError(400, "invalid_request", "The body must be a JSON object")
    context = await _context(smart, body)
    app = None
    if context["client_id"] is not None:
        app = await smart.clients.get(context["client_id"])
        if app is None:
            raise LaunchError(400, "invalid_request", f"No client {context['client_id']!r}")
    launch_id = secrets.token_urlsafe(24)
    seconds = smart.settings.launch_seconds
    doc = {**context, "created_by": ehr.client_id}
    await smart.records.put(LAUNCH, launch_id, doc, expires=time.time() + seconds)
    out: dict[str, Any] = {"launch": launch_id, "iss": base, "expires_in": seconds}
    if app is not None and app.launch_uri:
        out["launch_url"] = f"{app.launch_uri}?{urlencode({'iss': base, 'launch': launch_id})}"
    return out
