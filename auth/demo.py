"""Demo clients and test users for the demo data set (``fhir-server demo``): clinicians of every
sector (region hospital and psychiatry, municipal health and social services, general practice)
with and without care relationships, citizens and relatives, each bound to the demo resource
they are (the consent cases they try are described in dataset/access_cases.py); an app of each
SMART client kind; an EHR that may launch apps; a read-only and a read-write backend service.

The passwords, secrets and the backend's key stay the same on every run (an app configured with
them keeps working), until ``fhir-server demo --rotate`` makes new ones: they are derived from a
random seed kept in the authorization server's records (``demo_seed``), as secret as the signing
keys kept there (auth/keys.py). Users and clients themselves store only hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from joserfc.jwk import ECKey

from auth.clients import Clients, Registration
from auth.storage import AuthStore
from auth.users import Users

APP_REDIRECT = "http://localhost:8000/callback"
APP_LAUNCH = "http://localhost:8000/launch"


@dataclass(frozen=True)
class DemoUser:
    username: str
    fhir_user: str
    name: str
    about: str
    organization: str = ""
    """The ``Organization/x`` a clinician acts for (their PractitionerRole's), for the console;
    empty for a citizen or relative."""


_BUA, _GP_1, _GP_2 = "demo-midt-bua", "demo-aarhus-gp-1", "demo-aarhus-gp-2"
_HOME_NURSING = "demo-aarhus-home-nursing"


def _clinician(username: str, unit: str, staff: str, name: str, about: str) -> DemoUser:
    """A clinician of the demo's directory: ``<unit>-<staff>-role`` in ``Organization/<unit>``."""
    role = f"PractitionerRole/{unit}-{staff}-role"
    return DemoUser(username, role, name, about, f"Organization/{unit}")


USERS = (
    # region: hospital (a ward and a section under it) and psychiatry
    _clinician("freja", "demo-midt-medical-ward", "doctor-1", "Freja Andreasen",
               "doctor, medical ward (region); Mikkel (S3) blocked the ward but permits her"),
    _clinician("kirsten", "demo-midt-medical-ward-m3", "nurse-1", "Kirsten Johansen",
               "nurse, ward section M3 under the medical ward (region): the ward's block reaches"
               " her"),
    _clinician("pia", "demo-midt-orthopaedic-ward", "doctor-1", "Pia Olsen",
               "doctor, orthopaedic ward (region): no care relationship with any citizen"),
    _clinician("nanna", _BUA, "doctor-1", "Nanna Østergaard",
               "doctor, child and adolescent psychiatry (region psychiatry, S2, Sofie)"),
    _clinician("helle", "demo-midt-outreach", "doctor-1", "Helle Johansen",
               "psychiatrist, outreach team (region psychiatry, S3)"),
    # municipality: health
    _clinician("karen", _HOME_NURSING, "nurse-1", "Karen Hansen",
               "home nurse (municipality health, S4/S5/S7)"),
    _clinician("jan", "demo-aarhus-acute-function", "nurse-2", "Jan Larsen",
               "nurse, acute function (municipality health, S1/S6)"),
    # municipality: social (non-health: only what a permit names)
    _clinician("kim", "demo-aarhus-ppr", "psychologist-1", "Kim Andreasen",
               "school psychologist, PPR (municipality social): Emil's parents' permit (S2)"),
    _clinician("niels", "demo-aarhus-family-services", "caseworker-1", "Niels Clausen",
               "caseworker, family services (municipality social, S2)"),
    _clinician("marianne", "demo-aarhus-job-centre", "caseworker-1", "Marianne Brandt",
               "job consultant, job centre (municipality social): Mikkel's permit (S3)"),
    # general practice
    _clinician("laura", _GP_1, "doctor-1", "Laura Larsen", "general practitioner"),
    _clinician("anders", _GP_1, "doctor-2", "Anders Hansen",
               "general practitioner; Poul (S6) blocked him by name"),
    _clinician("frida", _GP_2, "doctor-1", "Frida Jensen",
               "general practitioner (S3/S5/S7)"),
    # citizens and relatives
    DemoUser("else", "Patient/demo-s7-citizen", "Else Vestergaard", "citizen (S7)"),
    DemoUser("ella", "RelatedPerson/demo-s2-mother", "Ella Kjær", "mother of Emil (S2)"),
    DemoUser("sofie", "Patient/demo-teen-citizen", "Sofie Bach",
             "citizen, 16: blocked her mother and her psychiatric data"),
    DemoUser("clara", "RelatedPerson/demo-teen-mother", "Clara Bach",
             "mother of Sofie, blocked by her"),
)  # fmt: skip


@dataclass(frozen=True)
class DemoApp:
    """An app this server ships under ``/apps/<client_id>/`` (fhir_server/http/apps.py),
    registered here like any third-party SMART app: a public client with PKCE, its own
    redirect and launch URIs on this server, and only the scopes it needs."""

    client_id: str
    name: str
    scope: str
    try_as: str
    """The demo user to try it with (for the console)."""

    def url(self, base: str) -> str:
        return f"{_origin(base)}/apps/{self.client_id}/"


APPS = (
    DemoApp(
        "min-plan", "Min plan (the citizen's app)",
        "openid fhirUser launch/patient patient/*.rs patient/Goal.cu patient/Consent.cud",
        "else",
    ),
    DemoApp(
        "faelles-plan", "Fælles plan (the care team's app)",
        "openid fhirUser launch launch/patient patient/*.rs patient/Goal.cu patient/CarePlan.u"
        " patient/Task.u patient/Communication.c",
        "karen",
    ),
    DemoApp(
        "indikatorer", "Indikatorer (the health agreement's dashboard)",
        "openid fhirUser user/Measure.rs user/MeasureReport.rs", "laura",
    ),
)  # fmt: skip


def _origin(base: str) -> str:
    """The server's root from its FHIR base (``http://host:8000/fhir`` → ``http://host:8000``):
    the apps are served beside the FHIR API, not under it."""
    return base.removesuffix("/fhir")


WRITER = "demo-writer"
"""The demo's read-write backend service (``system/*.cruds``): the client the demo's first
requests use (``fhir-server token demo-writer``)."""
WRITER_SCOPE = "system/*.cruds"
_SEED = ("demo_seed", "demo")


@dataclass
class DemoCredentials:
    passwords: dict[str, str]
    confidential_secret: str
    ehr_secret: str
    backend_key: Mapping[str, object]
    writer_secret: str


async def _seed(records: AuthStore, rotate: bool) -> tuple[bytes, dict[str, Any]]:
    """This database's demo seed and backend key: made on the first run or with ``rotate``."""
    found = None if rotate else await records.get(*_SEED)
    if found is not None:
        return bytes.fromhex(found.doc["seed"]), found.doc["backend_key"]
    key = ECKey.generate_key("P-384", {"alg": "ES384", "use": "sig"}, private=True, auto_kid=True)
    seed, private = secrets.token_hex(32), dict(key.as_dict(private=True))
    await records.put(*_SEED, {"seed": seed, "backend_key": private})
    return bytes.fromhex(seed), private


def _derived(seed: bytes, label: str, length: int) -> str:
    digest = hmac.new(seed, label.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:length]


async def register_demo(records: AuthStore, base: str, rotate: bool = False) -> DemoCredentials:
    """(Re-)register the demo's users and clients with this database's stable credentials
    (new ones with ``rotate``); the public app may also be redirected to the server's own page
    that shows the code (``<base>/auth/code``), for a launch without an app."""
    seed, backend_key = await _seed(records, rotate)
    users, clients = Users(records), Clients(records)
    passwords = {}
    for u in USERS:
        passwords[u.username] = _derived(seed, f"password:{u.username}", 12)
        await users.add(u.username, u.fhir_user, passwords[u.username], u.name, replace=True)
    app: dict[str, Any] = {"redirect_uris": [APP_REDIRECT], "launch_uri": APP_LAUNCH}
    public = {**app, "redirect_uris": [APP_REDIRECT, f"{base}/auth/code"]}
    await clients.add(Registration("demo-app", "public", "Demo app (public)", **public), True)
    _, confidential = await clients.add(
        Registration(
            "demo-confidential", "confidential-symmetric", "Demo app (confidential)",
            secret=_derived(seed, "secret:demo-confidential", 32), **app,
        ),
        True,
    )  # fmt: skip
    _, ehr = await clients.add(
        Registration(
            "demo-ehr", "confidential-symmetric", "Demo EHR", backend=True,
            scope="system/*.rs", may_launch=True, may_introspect=True,
            secret=_derived(seed, "secret:demo-ehr", 32),
        ),
        True,
    )  # fmt: skip
    _, writer = await clients.add(
        Registration(
            WRITER, "confidential-symmetric", "Demo backend service (read-write)", backend=True,
            scope=WRITER_SCOPE, secret=_derived(seed, f"secret:{WRITER}", 32),
        ),
        True,
    )  # fmt: skip
    key = ECKey.import_key(dict(backend_key))
    await clients.add(
        Registration(
            "demo-backend", "confidential-asymmetric", "Demo backend service", backend=True,
            scope="system/*.rs", jwks={"keys": [key.as_dict(private=False)]},
        ),
        True,
    )  # fmt: skip
    for shipped in APPS:
        await clients.add(
            Registration(
                shipped.client_id, "public", shipped.name, scope=shipped.scope,
                redirect_uris=[shipped.url(base)], launch_uri=f"{shipped.url(base)}launch.html",
            ),
            True,
        )  # fmt: skip
    assert confidential is not None and ehr is not None and writer is not None
    return DemoCredentials(passwords, confidential, ehr, key.as_dict(private=True), writer)


def usage(base: str, creds: DemoCredentials, program: str = "fhir-server") -> list[str]:
    """How to use the demo clients and users, for the console (``program``: how to run
    ``fhir-server`` from here)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    shown = f"{base}/auth/code"
    authorize = {
        "response_type": "code",
        "client_id": "demo-app",
        "redirect_uri": shown,
        "scope": "openid fhirUser launch/patient offline_access patient/*.rs",
        "state": secrets.token_urlsafe(8),
        "aud": base,
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
    }
    lines = [
        "SMART on FHIR (FHIR_AUTH=smart): discovery at",
        f"  {base}/.well-known/smart-configuration",
        "A test user's token through the demo app, for curl (Else, a citizen: her own data;"
        " a clinician: --user nanna --patient demo-s2-child):",
        f"  export TOKEN=$({program} token demo-app --user else)",
        "Test users (the same passwords on every `fhir-server demo`; `--rotate` makes new ones):",
        *(
            f"  {u.username:8} {creds.passwords[u.username]:14} {u.fhir_user}"
            + (f" in {u.organization}" if u.organization else "")
            + f" — {u.name}, {u.about}"
            for u in USERS
        ),
        "Clients:",
        f"  demo-app           public app, redirect {APP_REDIRECT}",
        f"  demo-confidential  confidential app, secret {creds.confidential_secret}",
        f"  demo-ehr           EHR (launch API, introspection), secret {creds.ehr_secret}",
        f"  {WRITER}        backend service, read-write ({WRITER_SCOPE}), secret"
        f" {creds.writer_secret}",
        f"    curl -s -u {WRITER}:{creds.writer_secret} -d grant_type=client_credentials"
        f" -d 'scope={WRITER_SCOPE}' {base}/auth/token",
        "  demo-backend       backend service, private_key_jwt ES384; its private key (JWK):",
        "    " + _compact(creds.backend_key),
        "Standalone launch in a browser (sign in as nanna, choose a patient; the server then"
        " shows the code):",
        f"  {base}/auth/authorize?{urlencode(authorize)}",
        "  and exchange the code it shows (within 5 minutes) for tokens:",
        f"  curl -s -d grant_type=authorization_code -d client_id=demo-app"
        f" -d 'redirect_uri={shown}' -d code_verifier={verifier} -d code=<the code>"
        f" {base}/auth/token",
        f"  (an app of your own at {APP_REDIRECT} is registered too: demo-app's redirect URIs)",
        "The apps this server ships (SMART apps, registered as public clients):",
        *(f"  {a.url(base):44} {a.name}; try as {a.try_as}" for a in APPS),
        "EHR launch for demo-app with Emil (S2) as the patient:",
        f"  curl -u demo-ehr:{creds.ehr_secret} -H 'Content-Type: application/json' \\",
        f'    -d \'{{"patient": "demo-s2-child", "client_id": "demo-app"}}\' {base}/auth/launch',
    ]
    return lines


def _compact(doc: Mapping[str, object]) -> str:
    import json

    return json.dumps(doc, separators=(",", ":"))
