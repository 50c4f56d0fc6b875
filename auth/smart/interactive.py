"""The browser side of the authorization code flow: authorize → login → (patient picker) →
approval → redirect to the app with a code.

The validated authorization request waits in the database as a *pending* record (15 minutes),
named by an unguessable id carried in the forms and bound to the browser by an HttpOnly cookie
(only its SHA-256 is stored), so a form posted from another browser or replayed later does
nothing. Errors the app can handle (once the client and redirect URI are known to be good) go
back to its redirect URI as RFC 6749 errors with ``state``; the rest are shown as a page.

Break-the-glass (``purpose_of_use=BTG`` with ``btg_reason``, `auth.purpose`) is checked once the
user has signed in: only a health professional may (else ``access_denied`` back to the app, with
the reason why); the grant then carries the purpose, the reason and the end
(``FHIR_BTG_SECONDS`` from approval) into its tokens.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson
from authlib.oauth2.rfc6749 import AccessDeniedError, InsecureTransportError, OAuth2Error
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from auth.principal import user_principal
from auth.purpose import EMERGENCY, NOT_HEALTH, purpose_code, requested
from auth.scope_grants import patient_scopes
from auth.smart import pages
from auth.smart.grants import approval
from auth.smart.request import SmartRequest, read_body
from auth.store_reader import StoreReader
from auth.throttle import Locked
from auth.tokens import Context, digest, new_id
from fhir_server.access import Access
from fhir_server.search.parse import parse_search
from fhir_server.search.registry import SPECIFICATION

if TYPE_CHECKING:
    from auth.smart.server import SmartServer, Triple
    from auth.users import User

INSECURE = (
    "OAuth needs HTTPS: serve the FHIR base over https (FHIR_BASE_URL=https://...) or on"
    " localhost / a loopback address"
)
PENDING = "pending"
PENDING_SECONDS = 900
MAX_FAILURES = 5
MAX_PARAMS = 50
MAX_NAME_CHARS = 64
MAX_VALUE_CHARS = 4096
"""A SMART scope list of some 80 granular scopes; nothing an app sends is longer."""
COOKIE = "fhir_authz"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_REDIRECT = {**_NO_STORE, "Referrer-Policy": "no-referrer"}


def page_headers(frame_ancestors: list[str], form_target: str | None) -> dict[str, str]:
    """Never cached, never sniffed, no referrer; no script at all, the page's own style element
    only (by its hash), forms posted only here or — after the redirect an approval ends in — to
    the app's redirect URI (``form_target``: its origin, browsers check the redirect too); shown
    in a frame only by the origins configured for it (an EHR that embeds apps), so another site
    cannot frame the approval page and trick a click."""
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    targets = f"'self' {form_target}" if form_target else "'self'"
    policy = (
        f"default-src 'none'; style-src {pages.STYLE_HASH}; form-action {targets};"
        f" frame-ancestors {ancestors}; base-uri 'none'"
    )
    headers = {
        **_NO_STORE,
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    if not frame_ancestors:
        headers["X-Frame-Options"] = "DENY"
    return headers


_ORIGIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-+:[]")


def form_target(redirect_uri: str | None) -> str | None:
    """A CSP source for a (registered, validated) redirect URI: its origin, or its scheme for
    an app's private scheme (``com.example.app:``); None when it cannot be written as one."""
    if not redirect_uri:
        return None
    parts = urlsplit(redirect_uri)
    scheme = parts.scheme.lower()
    source = f"{scheme}://{parts.netloc.lower()}" if scheme in ("http", "https") else f"{scheme}:"
    rest = source.replace("://", ":", 1)
    return source if scheme and set(rest) <= _ORIGIN_CHARS else None


async def form_pairs(request: Request) -> list[tuple[str, str]]:
    """The form's fields; ``BodyTooLarge`` past ``MAX_FORM_BYTES``."""
    body = await read_body(request)
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)


def bounded(pairs: list[tuple[str, str]]) -> bool:
    """Whether an authorization request is small enough to keep as a pending record: at most
    ``MAX_PARAMS`` parameters, names of ``MAX_NAME_CHARS`` and values of ``MAX_VALUE_CHARS``."""
    return len(pairs) <= MAX_PARAMS and all(
        len(k) <= MAX_NAME_CHARS and len(v) <= MAX_VALUE_CHARS for k, v in pairs
    )


class Flow:
    """The interactive endpoints for one request's FHIR base."""

    def __init__(self, smart: SmartServer, base: str) -> None:
        self.smart = smart
        self.base = base
        self.path = f"{base}/auth"
        self.form_target: str | None = None
        """Where this request's forms may end up: the app's redirect URI, once it is known."""

    def page(
        self, body: str, status: int = 200, extra: dict[str, str] | None = None
    ) -> HTMLResponse:
        headers = page_headers(self.smart.settings.auth_frame_ancestors, self.form_target)
        return HTMLResponse(body, status, headers={**headers, **(extra or {})})

    def oauth_request(self, pairs: list[tuple[str, str]], headers: Any = None) -> SmartRequest:
        return SmartRequest("GET", f"{self.path}/authorize", headers or {}, pairs, self.base)

    def oauth_error(self, req: SmartRequest, err: OAuth2Error, lang: str) -> Response:
        # types-Authlib says ``object``: it is what our ``handle_response`` returns
        status, _, headers = cast("Triple", self.smart.oauth.handle_error_response(req, err))
        if status == 302:
            return RedirectResponse(dict(headers)["Location"], 302, headers=_REDIRECT)
        return self.page(pages.error(lang, err.get_error_description(), err.error), 400)

    # authorize
    async def authorize(self, request: Request) -> Response:
        if request.method == "POST":
            pairs = await form_pairs(request)
        else:
            pairs = parse_qsl(request.url.query, keep_blank_values=True)
        if not bounded(pairs):
            lang = pages.pick_language(None, request.headers.get("accept-language"))
            text = pages.TEXT[lang]["too_many_params"]
            return self.page(pages.error(lang, text, "invalid_request"), 400)
        try:
            req = self.oauth_request(pairs, request.headers)
        except InsecureTransportError:
            return self.page(pages.error("en", INSECURE, "insecure_transport"), 400)
        lang = pages.pick_language(
            req.payload.data.get("ui_locales"), request.headers.get("accept-language")
        )
        try:
            grant = await self.smart.run(self.smart.oauth.get_consent_grant, req, None)
        except OAuth2Error as err:
            return self.oauth_error(req, err, lang)
        self.form_target = form_target(grant.redirect_uri)
        browser = request.cookies.get(COOKIE) or secrets.token_urlsafe(32)  # one per browser
        request_id = new_id()
        client = req.known_client  # get_consent_grant found it, or raised
        doc: dict[str, Any] = {
            "pairs": pairs,
            "browser": digest(browser),
            "lang": lang,
            "client_id": client.client_id,
            "app": client.name,
            "scope": (req.scope or "").split(),
            "launch": req.smart.get("launch"),
            "failures": 0,
            "form_target": self.form_target,
        }
        await self.smart.records.purge()  # what expired since, e.g. abandoned requests
        await self.smart.records.put(
            PENDING, request_id, doc, expires=time.time() + PENDING_SECONDS
        )
        response = self.page(pages.login(f"{self.path}/login", lang, request_id, doc["app"], False))
        self.remember(response, browser)
        return response

    def remember(self, response: Response, browser: str) -> None:
        """The cookie that binds pending requests to this browser."""
        response.set_cookie(
            COOKIE,
            browser,
            max_age=PENDING_SECONDS,
            path=urlsplit(self.path).path or "/",
            secure=self.path.startswith("https:"),
            httponly=True,
            samesite="lax",
        )

    async def pending(self, request: Request, request_id: str) -> dict[str, Any] | None:
        found = await self.smart.records.get(PENDING, request_id)
        browser = request.cookies.get(COOKIE)
        if found is None or browser is None or digest(browser) != found.doc["browser"]:
            return None
        self.form_target = found.doc.get("form_target")
        return found.doc

    async def save(self, request_id: str, doc: dict[str, Any]) -> None:
        await self.smart.records.put(
            PENDING, request_id, doc, expires=time.time() + PENDING_SECONDS
        )

    def expired(self, lang: str, key: str = "expired") -> Response:
        return self.page(pages.error(lang, pages.TEXT[lang][key]), 400)

    # login
    async def login(self, request: Request) -> Response:
        if request.method == "GET":  # the language switch
            params = dict(request.query_params)
            doc = await self.pending(request, params.get("request", ""))
            lang = params["lang"] if params.get("lang") in pages.LANGS else "da"
            if doc is None:
                return self.expired(lang)
            doc["lang"] = lang
            await self.save(params["request"], doc)
            return self.page(
                pages.login(f"{self.path}/login", lang, params["request"], doc["app"], False)
            )
        form = dict(await form_pairs(request))
        request_id = form.get("request", "")
        doc = await self.pending(request, request_id)
        if doc is None:
            return self.expired(form["lang"] if form.get("lang") in pages.LANGS else "da")
        username = form.get("username", "")
        attempt = await self.smart.throttle.begin(username, request.client and request.client.host)
        if isinstance(attempt, Locked):
            return self.locked(request_id, doc, username, attempt)
        user = await self.smart.users.login(username, form.get("password", ""))
        if user is None:
            locked = await self.smart.throttle.failed(attempt)
            doc["failures"] += 1
            if doc["failures"] >= MAX_FAILURES and locked is None:
                await self.smart.records.delete(PENDING, request_id)
                return self.expired(doc["lang"], "too_many")
            await self.save(request_id, doc)
            if locked is not None:
                return self.locked(request_id, doc, username, locked)
            page = pages.login(
                f"{self.path}/login", doc["lang"], request_id, doc["app"], True, username
            )
            return self.page(page)
        await self.smart.throttle.succeeded(attempt)
        if not await self.launch_allowed(doc, user):
            return await self.finish(request_id, doc, None, [])
        if _btg_reason(doc) is not None and not await self.may_break_glass(user):
            return await self.refuse(request_id, doc, NOT_HEALTH)
        doc.update(user=user.username, auth_time=time.time(), patient=None)
        await self.save(request_id, doc)
        return await self.next_page(request_id, doc, user)

    def locked(
        self, request_id: str, doc: dict[str, Any], username: str, locked: Locked
    ) -> Response:
        """The login page again, saying sign-in is locked and until when (429)."""
        notice = pages.locked(doc["lang"], locked.until, locked.by_address)
        page = pages.login(
            f"{self.path}/login", doc["lang"], request_id, doc["app"], False, username, notice
        )
        retry = str(max(1, int(locked.until - time.time() + 0.999)))
        return self.page(page, 429, {"Retry-After": retry})

    async def launch_allowed(self, doc: dict[str, Any], user: User) -> bool:
        """An EHR launch serves the user it names, else any clinician; a citizen or a relative
        only for their own patient (a launch id that leaks opens no one else's record)."""
        launch = doc.get("launch")
        if launch is None:
            return True
        if launch.get("user") not in (None, user.username):
            return False
        if launch.get("patient") is None:
            return True
        if user.role == "clinician":  # a launch id that leaks opens no unrelated record
            return await self.may_pick(user, launch["patient"], _btg_reason(doc) is not None)
        return await self.own_patient(user) == launch["patient"]

    async def may_break_glass(self, user: User) -> bool:
        """Only a health professional (a practitioner in a health sector) may break the glass;
        a citizen, a relative or a social worker never."""
        if user.role != "clinician":
            return False
        found = await self.smart.directory.resolve(user.fhir_user)
        return found.health_professional

    async def refuse(self, request_id: str, doc: dict[str, Any], description: str) -> Response:
        """Back to the app with ``access_denied`` and ``description`` (no code)."""
        await self.smart.records.delete(PENDING, request_id)
        req = self.oauth_request(doc["pairs"])
        try:
            grant = await self.smart.run(self.smart.oauth.get_consent_grant, req, None)
        except OAuth2Error as err:
            return self.oauth_error(req, err, doc["lang"])
        state = req.payload.data.get("state")
        denied = AccessDeniedError(description, state=state, redirect_uri=grant.redirect_uri)
        return self.oauth_error(req, denied, doc["lang"])

    def picks_patient(self, doc: dict[str, Any], user: User) -> bool:
        """A clinician's standalone ``launch/patient``: the patient is chosen on the picker."""
        ehr_patient = (doc.get("launch") or {}).get("patient")
        return "launch/patient" in doc["scope"] and ehr_patient is None and user.role == "clinician"

    def needs_picker(self, doc: dict[str, Any], user: User) -> bool:
        return self.picks_patient(doc, user) and doc.get("patient") is None

    async def next_page(self, request_id: str, doc: dict[str, Any], user: User) -> Response:
        if self.needs_picker(doc, user):
            found = await self.patients("", user, _btg_reason(doc), doc["client_id"])
            return self.page(
                pages.picker(f"{self.path}/patient", doc["lang"], request_id, doc["app"], found, "")
            )
        context = await self.context(doc, user, doc["scope"])
        patient = await self.patient_name(context.patient) if context.patient else None
        btg = None
        if context.btg_reason is not None:
            btg = (context.btg_reason, round(self.smart.settings.btg_seconds / 3600, 2))
        page = pages.approval(
            f"{self.path}/approve", doc["lang"], request_id, doc["app"],
            user.name or user.username, patient, doc["scope"], btg,
        )  # fmt: skip
        return self.page(page)

    # patient picker
    async def patients(
        self, name: str, user: User, btg_reason: str | None = None, app: str | None = None
    ) -> list[tuple[str, str, str]]:
        """The first 25 patients by family name the user may see (those matching ``name`` when
        given): the patient search narrowed by the one access decision, so a clinician is
        offered only the citizens they have a care relationship with (sundhedsloven §42a) —
        unless they break the glass (``btg_reason``: checked to be a health professional
        already), which is for a citizen they have none with. The listing shows names: it is
        audited as the search it is (one PatientQuery per patient shown, the app ``app`` — its
        client_id — as the client, a break-the-glass marked), committed before the page is
        answered."""
        pairs = [("_sort", "family,given")] + ([("name", name)] if name.strip() else [])
        query = parse_search(  # name and _sort: the specification's parameters
            "Patient", pairs, params=SPECIFICATION, default_count=25, max_count=25
        )
        access = await self.user_access(user, app, btg_reason)
        if btg_reason is None:
            await access.narrow(query, "s", quiet=True)
        page = await self.smart.fhir_store.search(query)
        access.disclose(page.items)
        await access.settle("search-type", "Patient", urlencode(pairs), 200)
        out = []
        for stored in page.items:
            resource = orjson.loads(stored.content or b"{}")
            out.append((stored.id, _display(resource), resource.get("birthDate", "?")))
        return out

    async def user_access(
        self, user: User, app: str | None = None, btg_reason: str | None = None
    ) -> Access:
        """What the signed-in user may see of Patients, decided (and audited) as for their
        token: ``app`` the client asking, ``btg_reason`` a break-the-glass asked for."""
        found = await self.smart.directory.resolve(user.fhir_user)
        claims: dict[str, Any] = {"client_id": app}
        if btg_reason is not None:
            claims |= {"purpose": EMERGENCY, "btg_reason": btg_reason}
        principal = user_principal(
            user.username, user.fhir_user, found, "user/Patient.rs", **claims
        )
        return principal.bind(
            StoreReader(self.smart.fhir_store, SPECIFICATION, self.smart.settings)
        )

    async def may_pick(self, user: User, patient: str, btg: bool = False) -> bool:
        """Whether the user may be given ``patient`` as launch context (picked, or named by
        an EHR launch): only a patient the picker could have offered them."""
        stored = await self.smart.fhir_store.read("Patient", patient)
        if btg:
            return stored is not None and not stored.deleted
        access = await self.user_access(user)
        return await access.admit(stored, "r") is not None

    async def patient_name(self, patient_id: str) -> str:
        stored = await self.smart.fhir_store.read("Patient", patient_id)
        if stored is None or stored.content is None:
            return patient_id
        return _display(orjson.loads(stored.content)) or patient_id

    async def pick(self, request: Request) -> Response:
        form = dict(await form_pairs(request))
        request_id = form.get("request", "")
        doc = await self.pending(request, request_id)
        user = await self.smart.users.get(doc["user"]) if doc and doc.get("user") else None
        if doc is None or user is None or not self.picks_patient(doc, user):
            return self.expired(doc["lang"] if doc else "da")
        action = f"{self.path}/patient"
        if form.get("action") == "select":
            chosen = form.get("patient", "")
            if not chosen or not await self.may_pick(user, chosen, _btg_reason(doc) is not None):
                found = await self.patients("", user, _btg_reason(doc), doc["client_id"])
                return self.page(
                    pages.picker(action, doc["lang"], request_id, doc["app"], found, "", True)
                )
            doc["patient"] = chosen
            await self.save(request_id, doc)
            return await self.next_page(request_id, doc, user)
        name = form.get("name", "")
        found = await self.patients(name, user, _btg_reason(doc), doc["client_id"])
        return self.page(pages.picker(action, doc["lang"], request_id, doc["app"], found, name))

    # approval
    async def context(self, doc: dict[str, Any], user: User, scope: list[str]) -> Context:
        context = await self._launch_context(doc, user, scope)
        pairs = dict(doc["pairs"])
        context.purpose_of_use = purpose_code(pairs.get("purpose_of_use"))
        context.btg_reason = _btg_reason(doc)
        if context.btg_reason is not None:
            context.btg_until = time.time() + self.smart.settings.btg_seconds
        return context

    async def _launch_context(self, doc: dict[str, Any], user: User, scope: list[str]) -> Context:
        style = f"{self.path}/smart-style.json"
        launch = doc.get("launch")
        if launch is not None and "launch" in scope:
            return Context(
                launch.get("patient"),
                launch.get("encounter"),
                user.fhir_user,
                launch.get("need_patient_banner", True),
                launch.get("smart_style_url") or style,
            )
        patient = None
        if "launch/patient" in scope or patient_scopes(scope):
            patient = (
                await self.own_patient(user) if user.role != "clinician" else doc.get("patient")
            )
        return Context(patient, None, user.fhir_user, True if patient else None, style)

    async def own_patient(self, user: User) -> str | None:
        kind, _, id_ = user.fhir_user.partition("/")
        if kind == "Patient":
            return id_
        stored = await self.smart.fhir_store.read("RelatedPerson", id_)
        if stored is None or stored.content is None:
            return None
        ref = (orjson.loads(stored.content).get("patient") or {}).get("reference", "")
        return ref.removeprefix("Patient/") if ref.startswith("Patient/") else None

    async def approve(self, request: Request) -> Response:
        pairs = await form_pairs(request)
        form = dict(pairs)
        request_id = form.get("request", "")
        doc = await self.pending(request, request_id)
        user = await self.smart.users.get(doc["user"]) if doc and doc.get("user") else None
        if doc is None or user is None or self.needs_picker(doc, user):
            return self.expired(doc["lang"] if doc else "da")
        chosen = [v for k, v in pairs if k == "scope" and v in doc["scope"]]
        granted = [s for s in doc["scope"] if s in chosen]
        approved = form.get("decision") == "approve" and granted
        return await self.finish(request_id, doc, user if approved else None, granted)

    async def finish(
        self, request_id: str, doc: dict[str, Any], user: User | None, granted: list[str]
    ) -> Response:
        """Redirect to the app: with a code for ``user`` (the approved scopes), or, without a
        user, ``access_denied``."""
        await self.smart.records.delete(PENDING, request_id)
        req = self.oauth_request(doc["pairs"])
        try:
            grant = await self.smart.run(self.smart.oauth.get_consent_grant, req, user)
        except OAuth2Error as err:
            return self.oauth_error(req, err, doc["lang"])
        if user is not None:
            context = await self.context(doc, user, granted)
            req.smart["approval"] = approval(granted, context, doc["auth_time"])
        response = await self.smart.run(
            self.smart.oauth.create_authorization_response, req, user, grant
        )
        # types-Authlib says ``object``: it is what our ``handle_response`` returns
        status, _, headers = cast("Triple", response)
        return RedirectResponse(dict(headers)["Location"], status, headers=_REDIRECT)


def _btg_reason(doc: dict[str, Any]) -> str | None:
    """The reason of the break-the-glass the pending request asks for (checked well-formed at
    the authorization endpoint), or None."""
    pairs = dict(doc["pairs"])
    return requested(pairs.get("purpose_of_use"), pairs.get("btg_reason"))


def _display(resource: dict[str, Any]) -> str:
    for name in resource.get("name") or []:
        given = " ".join(name.get("given") or [])
        text = name.get("text") or f"{given} {name.get('family', '')}".strip()
        if text:
            return text
    return resource.get("id", "")
