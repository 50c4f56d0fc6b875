"""The pages a person sees during authorization — login, patient picker, approval, errors — in
Danish (the default) and English. Plain server-rendered HTML forms: no scripts, every value
escaped."""

from __future__ import annotations

import base64
import hashlib
import time
from html import escape

from auth.scope_grants import resource_scope

LANGS = ("da", "en")

TEXT: dict[str, dict[str, str]] = {
    "da": {
        "title": "Log ind",
        "login_lead": (
            "{app} vil have adgang til data på denne FHIR-server. Log ind for at fortsætte."
        ),
        "username": "Brugernavn",
        "password": "Adgangskode",
        "login": "Log ind",
        "bad_login": "Forkert brugernavn eller adgangskode.",
        "picker_title": "Vælg patient",
        "picker_lead": "Vælg den patient, {app} skal åbnes for.",
        "search_name": "Søg på navn",
        "search": "Søg",
        "select": "Vælg",
        "no_patients": "Ingen patienter fundet.",
        "born": "født",
        "approve_title": "Giv adgang",
        "approve_lead": "{app} beder om adgang. Du er logget ind som {user}.",
        "btg": "Værdispring (nødadgang) i {hours} timer, logges og vises for borgeren. Begrundelse",
        "patient": "Patient",
        "approve": "Giv adgang",
        "deny": "Afvis",
        "error_title": "Godkendelsen kan ikke fortsætte",
        "expired": "Anmodningen er udløbet eller ukendt. Start forfra fra appen.",
        "too_many": "For mange forkerte forsøg. Start forfra fra appen.",
        "unknown_patient": "Patienten findes ikke.",
        "too_large": "Anmodningen er for stor.",
        "locked_user": (
            "Kontoen er midlertidigt spærret efter for mange forkerte forsøg."
            " Prøv igen efter kl. {until} UTC."
        ),
        "locked_address": (
            "Log ind fra dit netværk er midlertidigt spærret efter for mange forkerte forsøg."
            " Prøv igen efter kl. {until} UTC."
        ),
        "too_many_params": "Anmodningen har for mange eller for lange parametre.",
        "language": "English",
    },
    "en": {
        "title": "Sign in",
        "login_lead": "{app} wants to access data on this FHIR server. Sign in to continue.",
        "username": "Username",
        "password": "Password",
        "login": "Sign in",
        "bad_login": "Wrong username or password.",
        "picker_title": "Choose a patient",
        "picker_lead": "Choose the patient to open {app} for.",
        "search_name": "Search by name",
        "search": "Search",
        "select": "Choose",
        "no_patients": "No patients found.",
        "born": "born",
        "approve_title": "Grant access",
        "approve_lead": "{app} asks for access. You are signed in as {user}.",
        "btg": "Break-the-glass (emergency access) for {hours} hours, logged and shown to the"
        " citizen. Reason",
        "patient": "Patient",
        "approve": "Grant access",
        "deny": "Deny",
        "error_title": "Authorization cannot continue",
        "expired": "The request has expired or is unknown. Start again from the app.",
        "too_many": "Too many failed attempts. Start again from the app.",
        "unknown_patient": "No such patient.",
        "too_large": "The request is too large.",
        "locked_user": (
            "This account is temporarily locked after too many failed sign-ins."
            " Try again after {until} UTC."
        ),
        "locked_address": (
            "Sign-in from your network is temporarily locked after too many failed sign-ins."
            " Try again after {until} UTC."
        ),
        "too_many_params": "The request has too many or too long parameters.",
        "language": "Dansk",
    },
}

_CONTEXT_SCOPES = {
    "da": {
        "openid": "Bekræfte hvem du er",
        "fhirUser": "Kende din person i journalen (fhirUser)",
        "profile": "Se dit navn",
        "launch": "Åbne i patienten og kontakten valgt i journalsystemet",
        "launch/patient": "Kende den valgte patient",
        "launch/encounter": "Kende den valgte kontakt",
        "offline_access": "Beholde adgangen, også når du ikke bruger appen",
        "online_access": "Beholde adgangen, mens du er logget ind",
    },
    "en": {
        "openid": "Confirm who you are",
        "fhirUser": "Know who you are in the record (fhirUser)",
        "profile": "See your name",
        "launch": "Open in the patient and encounter chosen in the EHR",
        "launch/patient": "Know the chosen patient",
        "launch/encounter": "Know the chosen encounter",
        "offline_access": "Keep access while you are not using the app",
        "online_access": "Keep access while you are signed in",
    },
}
_PERMS = {
    "da": {"c": "oprette", "r": "læse", "u": "ændre", "d": "slette", "s": "søge i"},
    "en": {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"},
}
_WHOSE = {
    "da": {"patient": "om patienten", "user": "som du har adgang til", "system": "i hele systemet"},
    "en": {"patient": "about the patient", "user": "that you may access", "system": "system-wide"},
}
_ALL = {"da": "alle data", "en": "all data"}
_ONLY = {"da": "kun", "en": "only"}


def describe(scope: str, lang: str) -> str:
    """A scope in words, e.g. ``patient/Observation.rs`` → "læse og søge i Observation om
    patienten"."""
    if scope in _CONTEXT_SCOPES[lang]:
        return _CONTEXT_SCOPES[lang][scope]
    parsed = resource_scope(scope)
    if parsed is None:
        return scope
    verbs = [_PERMS[lang][p] for p in "cruds" if p in parsed.perms]
    joined = (
        verbs[0]
        if len(verbs) == 1
        else ", ".join(verbs[:-1]) + (" og " if lang == "da" else " and ") + verbs[-1]
    )
    what = _ALL[lang] if parsed.type == "*" else parsed.type
    text = f"{joined.capitalize()} {what} {_WHOSE[lang][parsed.context]}"
    return f"{text} ({_ONLY[lang]} {parsed.query})" if parsed.query else text


def pick_language(ui_locales: str | None, accept_language: str | None) -> str:
    for tag in (ui_locales or "").split():
        if tag[:2].lower() in LANGS:
            return tag[:2].lower()
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip()[:2].lower()
        if tag in LANGS:
            return tag
    return "da"


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;"
    "color:#1d2b36}h1{font-size:1.5rem}label{display:block;margin:.8rem 0 .2rem}"
    "input[type=text],input[type=password]{width:100%;padding:.5rem;box-sizing:border-box}"
    "button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem}.error{color:#a40000}"
    "ul{list-style:none;padding:0}li{margin:.4rem 0}.lang{float:right;font-size:.9rem}"
)


STYLE_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode() + "'"
"""The Content-Security-Policy source that allows the pages' one style element, and no other."""


def _page(lang: str, title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def locked(lang: str, until: float, by_address: bool) -> str:
    """Why sign-in is refused and until when (UTC, so no time zone database is needed)."""
    text = TEXT[lang]["locked_address" if by_address else "locked_user"]
    return text.format(until=time.strftime("%H:%M", time.gmtime(until + 59)))  # rounded up


def login(
    action: str,
    lang: str,
    request_id: str,
    app: str,
    error: bool,
    username: str = "",
    notice: str = "",
) -> str:
    """``error``: the password was wrong; ``notice``: another message in its place."""
    t = TEXT[lang]
    other = "en" if lang == "da" else "da"
    href = f"{action}?request={request_id}&lang={other}"
    switch = f'<a class="lang" href="{escape(href)}">{t["language"]}</a>'
    alert = notice or (t["bad_login"] if error else "")
    message = f'<p class="error" role="alert">{escape(alert)}</p>' if alert else ""
    body = (
        f"{switch}<h1>{t['title']}</h1><p>{escape(t['login_lead'].format(app=app))}</p>{message}"
        f'<form method="post" action="{escape(action)}">{_hidden("request", request_id)}'
        f"{_hidden('lang', lang)}"
        f'<label for="username">{t["username"]}</label>'
        f'<input type="text" id="username" name="username" value="{escape(username)}" '
        f'autocomplete="username" required>'
        f'<label for="password">{t["password"]}</label>'
        f'<input type="password" id="password" name="password" '
        f'autocomplete="current-password" required>'
        f'<button type="submit">{t["login"]}</button></form>'
    )
    return _page(lang, t["title"], body)


def picker(
    action: str,
    lang: str,
    request_id: str,
    app: str,
    patients: list[tuple[str, str, str]],
    query: str,
    error: bool = False,
) -> str:
    """``patients``: (id, name, birth date)."""
    t = TEXT[lang]
    rows = "".join(
        f'<li><label><input type="radio" name="patient" value="{escape(pid)}" required> '
        f"{escape(name)} ({t['born']} {escape(born)})</label></li>"
        for pid, name, born in patients
    )
    message = f'<p class="error" role="alert">{t["unknown_patient"]}</p>' if error else ""
    listing = (
        f'<form method="post" action="{escape(action)}">{_hidden("request", request_id)}'
        f"{_hidden('action', 'select')}<ul>{rows}</ul>"
        f'<button type="submit">{t["select"]}</button></form>'
        if patients
        else f"<p>{t['no_patients']}</p>"
    )
    body = (
        f"<h1>{t['picker_title']}</h1><p>{escape(t['picker_lead'].format(app=app))}</p>{message}"
        f'<form method="post" action="{escape(action)}">{_hidden("request", request_id)}'
        f'{_hidden("action", "search")}<label for="name">{t["search_name"]}</label>'
        f'<input type="text" id="name" name="name" value="{escape(query)}">'
        f'<button type="submit">{t["search"]}</button></form>{listing}'
    )
    return _page(lang, t["picker_title"], body)


def approval(
    action: str,
    lang: str,
    request_id: str,
    app: str,
    user: str,
    patient: str | None,
    scopes: list[str],
    btg: tuple[str, float] | None = None,
) -> str:
    """The approval form; ``btg``: the break-the-glass asked for (reason, hours), stated so the
    user approves it knowingly."""
    t = TEXT[lang]
    items = "".join(
        f'<li><label><input type="checkbox" name="scope" value="{escape(s)}" checked> '
        f"{escape(describe(s, lang))} <code>{escape(s)}</code></label></li>"
        for s in scopes
    )
    who = f"<p>{t['patient']}: {escape(patient)}</p>" if patient else ""
    if btg is not None:
        hours = f"{btg[1]:g}"
        who += f"<p><strong>{escape(t['btg'].format(hours=hours))}:</strong> {escape(btg[0])}</p>"
    body = (
        f"<h1>{t['approve_title']}</h1>"
        f"<p>{escape(t['approve_lead'].format(app=app, user=user))}</p>{who}"
        f'<form method="post" action="{escape(action)}">{_hidden("request", request_id)}'
        f"<ul>{items}</ul>"
        f'<button type="submit" name="decision" value="approve">{t["approve"]}</button>'
        f'<button type="submit" name="decision" value="deny">{t["deny"]}</button></form>'
    )
    return _page(lang, t["approve_title"], body)


def error(lang: str, message: str, code: str | None = None) -> str:
    t = TEXT[lang]
    detail = f"<p><code>{escape(code)}</code></p>" if code else ""
    return _page(
        lang, t["error_title"], f"<h1>{t['error_title']}</h1><p>{escape(message)}</p>{detail}"
    )


def code(code: str, state: str, exchange: str) -> str:
    """The authorization code shown to a person (a redirect URI without an app behind it:
    ``/fhir/auth/code``, the demo's), with the command that exchanges it."""
    body = (
        "<h1>Authorization code</h1>"
        f"<p>Code: <code>{escape(code)}</code></p><p>State: <code>{escape(state)}</code></p>"
        "<p>Exchange it within 5 minutes, with the PKCE verifier your authorization request was"
        f" made with:</p><pre>{escape(exchange)}</pre>"
    )
    return _page("en", "Authorization code", body)
