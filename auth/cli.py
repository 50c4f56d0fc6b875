"""``fhir-server clients …``, ``fhir-server users …`` and ``fhir-server keys rotate``: register the
authorization server's clients and test users, stored in the database ``FHIR_STORE_URL`` names.
``fhir-server token``: an access token for a registered client (or a test user through one), for
curl and scripts.

Secrets are printed once, at registration; only their hashes are stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from auth.clients import KINDS, Clients, Registration, RegistrationError
from auth.keys import KeyStore
from auth.storage import AuthStore, auth_store_for
from auth.users import UserError, Users
from fhir_server.config import Settings
from fhir_server.store.base import Store


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[tuple[Store, AuthStore]]:
    from fhir_server.store.factory import make_store

    store = make_store(settings)
    await store.open()
    records = auth_store_for(store)
    await records.open()
    try:
        yield store, records
    finally:
        await records.close()
        await store.close()


def add_parsers(sub: Any) -> None:
    clients = sub.add_parser("clients", help="register SMART apps, EHRs and backend services")
    csub = clients.add_subparsers(dest="action", required=True)
    add = csub.add_parser("add", help="register a client (a secret is printed once)")
    add.add_argument("client_id", help="the client's id (letters, digits, . _ -)")
    add.add_argument(
        "--type",
        dest="kind",
        choices=KINDS,
        required=True,
        help="public (a browser or native app, no secret), confidential-symmetric (a secret"
        " is printed once) or confidential-asymmetric (signs with its own key: --jwks)",
    )
    add.add_argument("--name", default="", help="a name shown on the approval page")
    add.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        dest="redirect_uris",
        help="where the authorization server sends the app back to (repeatable; an app needs"
        " one; its origin is also answered with CORS)",
    )
    add.add_argument("--scope", help="the scopes it may be granted (space separated)")
    add.add_argument("--backend", action="store_true", help="client_credentials (system-to-system)")
    add.add_argument("--jwks", type=Path, help="file with the client's public JWKS")
    add.add_argument("--jwks-url", help="where the client publishes its JWKS")
    add.add_argument("--launch-uri", help="the app's launch URL (for EHR launch links)")
    add.add_argument("--may-launch", action="store_true", help="an EHR: may create launches")
    add.add_argument("--may-introspect", action="store_true", help="may introspect any token")
    add.add_argument(
        "--organization",
        help="a backend service's organization, which it acts for (Organization/<id> or a SOR"
        " identifier system|value)",
    )
    add.add_argument("--replace", action="store_true", help="re-register (new secret)")
    csub.add_parser("list", help="list the registered clients, their scopes and redirect URIs")
    remove = csub.add_parser("remove", help="remove a client")
    remove.add_argument("client_id", help="the client to remove")

    users = sub.add_parser("users", help="register test users of the embedded login")
    usub = users.add_subparsers(dest="action", required=True)
    uadd = usub.add_parser("add", help="register a user (a generated password is printed)")
    uadd.add_argument("username", help="the name to sign in with")
    uadd.add_argument("--fhir-user", required=True, help="e.g. Practitioner/abc or Patient/123")
    uadd.add_argument("--name", default="", help="the user's display name")
    uadd.add_argument("--password", help="(default: generate one, printed once)")
    uadd.add_argument("--replace", action="store_true", help="re-register an existing user")
    usub.add_parser("list", help="list the users")
    uremove = usub.add_parser("remove", help="remove a user")
    uremove.add_argument("username", help="the user to remove")

    token = sub.add_parser(
        "token",
        help="print an access token for a registered backend client, or a test user (--user)"
        ' through a registered app, for `curl -H "Authorization: Bearer …"`',
        description="Signs an access token with the server's current key, for the FHIR base"
        " FHIR_BASE_URL names (else http://127.0.0.1:$PORT/fhir), as the token endpoint would"
        " issue it: the client's registered scopes bound it, and it is recorded (revocable,"
        " introspectable). Whoever can run this can read the signing keys in the database"
        " anyway; it needs no secret.",
    )
    token.add_argument("client_id", help="a registered client (e.g. demo-writer, demo-app)")
    token.add_argument("--user", help="a test user (fhir-server users add) the token is for")
    token.add_argument("--scope", help="the scopes asked for (default: the client's own)")
    token.add_argument(
        "--patient", help="the patient context (a clinician's; a citizen's is their own)"
    )

    keys = sub.add_parser("keys", help="the authorization server's signing keys")
    ksub = keys.add_subparsers(dest="action", required=True)
    ksub.add_parser("rotate", help="make a new signing key (the previous one stays published)")


def run(args: argparse.Namespace) -> int:
    handlers: dict[
        tuple[str, str], Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]
    ] = {
        ("clients", "add"): _client_add,
        ("clients", "list"): _client_list,
        ("clients", "remove"): _client_remove,
        ("users", "add"): _user_add,
        ("users", "list"): _user_list,
        ("users", "remove"): _user_remove,
        ("keys", "rotate"): _keys_rotate,
        ("token", ""): _token,
    }
    action = getattr(args, "action", "")
    try:
        return asyncio.run(handlers[args.command, action](args, Settings()))
    except (RegistrationError, UserError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _registration(args: argparse.Namespace) -> Registration:
    jwks = None
    if args.jwks is not None:
        try:
            jwks = json.loads(args.jwks.read_text())
        except (OSError, ValueError) as err:
            raise RegistrationError(f"--jwks {args.jwks}: {err}") from err
    return Registration(
        client_id=args.client_id,
        kind=args.kind,
        name=args.name,
        redirect_uris=args.redirect_uris,
        scope=args.scope,
        backend=args.backend,
        jwks=jwks,
        jwks_uri=args.jwks_url,
        launch_uri=args.launch_uri,
        may_launch=args.may_launch,
        may_introspect=args.may_introspect,
        organization=args.organization,
    )


async def _client_add(args: argparse.Namespace, settings: Settings) -> int:
    reg = _registration(args)
    async with opened(settings) as (_, records):
        client, secret = await Clients(records).add(reg, replace=args.replace)
    print(f"registered {client.kind} client {client.client_id!r}")
    print(f"  grant types: {' '.join(client.grant_types)}")
    print(f"  scopes: {' '.join(client.scopes)}")
    if client.organization is not None:
        print(f"  acts for: {client.organization}")
    if secret is not None:
        print(f"  client secret (shown once; HTTP Basic at the token endpoint): {secret}")
    return 0


async def _client_list(args: argparse.Namespace, settings: Settings) -> int:
    async with opened(settings) as (_, records):
        for c in await Clients(records).all():
            flags = (("may-launch", c.may_launch), ("may-introspect", c.may_introspect))
            extras = [name for name, on in flags if on]
            extras += [c.organization] if c.organization else []
            print(f"{c.client_id}\t{c.kind}\t{' '.join(c.grant_types)}\t{' '.join(extras)}")
            print(f"  scopes: {' '.join(c.scopes) or '(none)'}")
            print(f"  redirect URIs: {' '.join(c.redirect_uris) or '(none)'}")
            if c.launch_uri:
                print(f"  launch URI: {c.launch_uri}")
    return 0


async def _client_remove(args: argparse.Namespace, settings: Settings) -> int:
    async with opened(settings) as (_, records):
        removed = await Clients(records).remove(args.client_id)
    print(f"removed client {args.client_id!r}" if removed else f"no client {args.client_id!r}")
    return 0 if removed else 1


async def _user_add(args: argparse.Namespace, settings: Settings) -> int:
    password = args.password or secrets.token_urlsafe(12)
    async with opened(settings) as (store, records):
        user = await Users(records).add(
            args.username, args.fhir_user, password, args.name, replace=args.replace
        )
        kind, _, id_ = user.fhir_user.partition("/")
        found = await store.read(kind, id_)
    print(f"registered {user.role} {user.username!r} as {user.fhir_user}")
    if not args.password:
        print(f"  password (shown once): {password}")
    if found is None or found.deleted:
        print(f"  warning: {user.fhir_user} is not in the store (yet)", file=sys.stderr)
    return 0


async def _user_list(args: argparse.Namespace, settings: Settings) -> int:
    async with opened(settings) as (_, records):
        for u in await Users(records).all():
            print(f"{u.username}\t{u.role}\t{u.fhir_user}\t{u.name}")
    return 0


async def _user_remove(args: argparse.Namespace, settings: Settings) -> int:
    async with opened(settings) as (_, records):
        removed = await Users(records).remove(args.username)
    print(f"removed user {args.username!r}" if removed else f"no user {args.username!r}")
    return 0 if removed else 1


async def _keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    async with opened(settings) as (_, records):
        kid = await KeyStore(records).rotate()
    print(
        f"new signing key {kid}; restart the servers (or wait for them to reload) to sign with it"
    )
    return 0


async def _token(args: argparse.Namespace, settings: Settings) -> int:
    from auth.identity import Directory
    from auth.keys import KeyStore
    from auth.tokens import Context, Grant, Issuer, new_id
    from fhir_server.config import console_base

    async with opened(settings) as (store, records):
        client = await Clients(records).get(args.client_id)
        if client is None:
            raise RegistrationError(f"no client {args.client_id!r} (fhir-server clients list)")
        if args.user is None:
            if not client.check_grant_type("client_credentials"):
                raise RegistrationError(
                    f"{client.client_id!r} is not a backend service: give --user for an app"
                )
            context = Context(organization_id=client.organization)
            subject, lifetime = client.client_id, settings.backend_token_seconds
            wanted = args.scope or " ".join(client.scopes)
        else:
            user = await Users(records).get(args.user)
            if user is None:
                raise UserError(f"no user {args.user!r} (fhir-server users list)")
            found = await Directory(store).resolve(user.fhir_user)
            patient = found.patient if user.role != "clinician" else args.patient
            if args.patient is not None and patient != args.patient:
                raise UserError(f"--patient: {user.username!r} acts only for Patient/{patient}")
            context = Context(patient, None, user.fhir_user, True if patient else None)
            subject, lifetime = user.username, settings.access_token_seconds
            default = (
                "fhirUser launch/patient patient/*.cruds" if patient else "fhirUser user/*.cruds"
            )
            wanted = args.scope or default
        granted = client.get_allowed_scope(wanted)
        if not granted:
            raise RegistrationError(
                f"--scope: none of {wanted!r} is registered for {client.client_id!r}"
            )
        keys = KeyStore(records)
        await keys.load()
        grant = Grant(new_id(), client.client_id, subject, granted.split(), context)
        issued = await Issuer(records, keys).issue(
            grant, base=console_base(settings), lifetime=lifetime
        )
    print(issued["access_token"])
    print(
        f"for {console_base(settings)}, scope {issued['scope']!r}, expires in {lifetime} s",
        file=sys.stderr,
    )
    return 0
