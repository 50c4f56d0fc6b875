"""``fhir-server clients …``, ``fhir-server users …`` and ``fhir-server keys rotate``: register the
authorization server's clients and test users, stored in the database ``FHIR_STORE_URL`` names.

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
    add.add_argument("client_id")
    add.add_argument("--type", dest="kind", choices=KINDS, required=True)
    add.add_argument("--name", default="")
    add.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
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
    csub.add_parser("list", help="list the registered clients")
    remove = csub.add_parser("remove", help="remove a client")
    remove.add_argument("client_id")

    users = sub.add_parser("users", help="register test users of the embedded login")
    usub = users.add_subparsers(dest="action", required=True)
    uadd = usub.add_parser("add", help="register a user (a generated password is printed)")
    uadd.add_argument("username")
    uadd.add_argument("--fhir-user", required=True, help="e.g. Practitioner/abc or Patient/123")
    uadd.add_argument("--name", default="")
    uadd.add_argument("--password", help="(default: generate one)")
    uadd.add_argument("--replace", action="store_true")
    usub.add_parser("list", help="list the users")
    uremove = usub.add_parser("remove", help="remove a user")
    uremove.add_argument("username")

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
    }
    try:
        return asyncio.run(handlers[args.command, args.action](args, Settings()))
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
