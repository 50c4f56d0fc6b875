"""The ``fhir-server`` command: serve, load, reindex, packages, demo, generate, and the
authorization server's clients, users and keys (their commands are ``auth.cli``'s)."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fhir_server.config import Settings

if TYPE_CHECKING:
    from auth.demo import DemoCredentials
    from dataset.demo import DemoReport
    from fhir_server.services import Services
    from fhir_server.store.base import Store


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from fhir_server.app import ANNOUNCED, OFF_WARNING
    from fhir_server.http.protocols import HttpToolsWithOutcome

    if not args.access_log:
        os.environ["FHIR_ACCESS_LOG"] = "off"  # the workers read their settings from it
    settings = Settings()
    # one paging-cursor secret per start, shared by every worker (search/cursor.py)
    os.environ.setdefault("FHIR_CURSOR_SECRET", secrets.token_hex(32))
    base = settings.base_url or f"http://{_reachable(args.host)}:{args.port}/fhir"
    print(
        f"FHIR base: {base}  (store: {_shown(settings.store_url)}, authorization:"
        f" {settings.auth}, access log: {settings.access_log})"
    )
    if settings.auth == "off":
        print(OFF_WARNING, file=sys.stderr)
    elif settings.auth == "smart":
        print(f"SMART discovery: {base}/.well-known/smart-configuration")
        if not asyncio.run(_has_clients(settings)):
            print(
                "No clients are registered yet: `fhir-server demo` registers demo users and"
                " clients (then `fhir-server token demo-writer` prints a token for curl), or"
                " register your own with `fhir-server clients add …` (docs/security.md)."
            )
    os.environ[ANNOUNCED] = "1"  # the workers need not print these again
    uvicorn.run(
        "fhir_server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,  # it writes query values; the server writes its own (access_log.py)
        http=HttpToolsWithOutcome,
    )
    return 0


def _reachable(host: str) -> str:
    """The address to print for a server listening on ``host`` (all interfaces: loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _shown(url: str) -> str:
    """A store URL without the password it may carry (``mongodb://user:secret@host``)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


async def _has_clients(settings: Settings) -> bool:
    from auth.cli import opened
    from auth.clients import Clients

    async with opened(settings) as (_, records):
        return bool(await Clients(records).all())


async def _load(paths: list[Path], progress: bool, check_references: bool = False) -> int:
    from fhir_server.loader import Loader
    from fhir_server.services import create_services
    from fhir_server.store.factory import make_store

    settings = Settings()
    services = create_services(settings)  # writes with the checks its environment asks for
    store = make_store(settings, services.indexer)
    await store.open()
    await services.custom.sync(store)  # the server's own SearchParameters are indexed too
    await services.conformance.sync(store)  # and its stored profiles validate
    try:
        loader = Loader(store, settings, services, check_references)
        report = await loader.load(paths, progress)
    finally:
        await store.close()
    for failure in report.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(f"loaded {report.loaded}, failed {len(report.failures)}")
    return 1 if report.failures else 0


async def _packages(args: argparse.Namespace) -> int:
    """``packages install FILE``: a FHIR package's conformance resources into the store (all or
    nothing); ``packages list``: the packages installed (fhir_server/packages.py)."""
    from fhir_server.packages import PackageError, install, installed, read_package
    from fhir_server.services import create_services
    from fhir_server.store.factory import make_store

    package = None
    if args.action == "install":
        try:
            package = read_package(args.file)
        except PackageError as err:
            print(f"FAILED {err}", file=sys.stderr)
            return 1
    settings = Settings()
    services = create_services(settings)
    store = make_store(settings, services.indexer)
    await store.open()
    try:
        await services.custom.sync(store)
        if package is None:
            found = await installed(store)
            for tag, counts in sorted(found.items()):
                print(f"{tag}: " + ", ".join(f"{n} {t}" for t, n in sorted(counts.items())))
            if not found:
                print("no packages installed")
            return 0
        report = await install(store, services, package, args.skip_unusable)
    finally:
        await store.close()
    for failure in report.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    for skipped in report.skipped:
        print(f"SKIPPED {skipped}", file=sys.stderr)
    if report.failures:
        print(f"{package.tag}: not installed ({len(report.failures)} refused, nothing written)")
        return 1
    print(
        f"{package.tag}: {report.written} written, {report.unchanged} unchanged"
        f", {len(report.skipped)} left out ({package.skipped} resources of other types skipped)"
    )
    return 0


async def _reindex(progress: bool) -> int:
    from tqdm import tqdm

    from fhir_server.resource_types import SERVED_TYPES
    from fhir_server.search.terms import SearchQuery
    from fhir_server.services import create_services
    from fhir_server.store.factory import make_store

    settings = Settings()
    services = create_services(settings)
    store = make_store(settings, services.indexer)
    await store.open()
    await services.custom.sync(store)
    total = 0
    try:
        types = sorted(SERVED_TYPES)
        expected = sum([await store.count(SearchQuery(t)) for t in types]) if progress else None
        with tqdm(
            total=expected,
            desc="reindex",
            unit=" resources",
            disable=not progress,
            dynamic_ncols=True,
        ) as bar:
            for type_ in types:
                bar.set_postfix_str(type_, refresh=False)  # the type under way, after the rate
                async for done in store.reindex_type(type_):
                    total += done
                    bar.update(done)
    finally:
        await store.close()
    print(f"reindexed {total} resources")
    return 0


async def _demo(progress: bool, rotate: bool) -> int:
    # The demo data set is not part of the server (production code never imports it): the
    # `demo` and `generate` commands are the one place it is imported, lazily, here.
    from dataset.demo import EXAMPLES, load_demo
    from fhir_server.config import console_base
    from fhir_server.services import create_services
    from fhir_server.store.factory import make_store

    settings = Settings()
    services = create_services(settings)
    store = make_store(settings, services.indexer)
    await store.open()
    credentials = None
    try:
        report = await load_demo(store, settings, services, progress)
        who_sees_what = await _who_sees_what(store, services, report)
        if settings.auth == "smart":
            credentials = await _register_demo(store, console_base(settings), rotate)
    finally:
        await store.close()
    for failure in report.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(
        f"demo data set (scenarios S1-S7 and the access cases, {report.types['Patient']} "
        f"citizens): {report.total} resources, "
        f"{report.written} written, {report.unchanged} already loaded unchanged"
    )
    print(", ".join(f"{n} {t}" for t, n in report.types.items()))
    base = console_base(settings)
    print(
        f"Try (with `fhir-server serve` running on this FHIR_STORE_URL, at {base}: set PORT or"
        " FHIR_BASE_URL for another; these commands work as they are, in this order):"
    )
    for line in _first_requests(base, settings.auth == "smart", EXAMPLES):
        print(f"  {line}")
    print("\n".join(who_sees_what))
    if credentials is not None:
        from auth.demo import usage

        print("\n".join(usage(base, credentials, _program())))
    return 1 if report.failures else 0


def _program() -> str:
    """How to run this command from the current directory: ``fhir-server`` when it is on the
    PATH, else its path in the virtual environment (``.venv/bin/fhir-server``)."""
    import shutil

    beside = Path(sys.executable).parent / "fhir-server"
    if shutil.which("fhir-server") == str(beside) or not beside.exists():
        return "fhir-server"
    try:
        return str(beside.relative_to(Path.cwd()))
    except ValueError:
        return str(beside)


def _first_requests(base: str, smart: bool, examples: tuple[tuple[str, str], ...]) -> list[str]:
    """Copy-and-paste commands: with SMART on, a read-write backend service's token first, then
    reads, a conditional create (``If-None-Exist``) and a transaction."""
    lines = []
    auth = ""
    if smart:
        from auth.demo import WRITER

        lines += [
            "# a read-write backend service's access token (5 minutes; run again for a new one):",
            f"export TOKEN=$({_program()} token {WRITER})",
        ]
        auth = ' -H "Authorization: Bearer $TOKEN"'
    for title, query in examples:
        lines += [f"# {title}", f"curl -s{auth} '{base}/{query}'"]
    patient = (
        '{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.208.176.1.2",'
        '"value":"0101901234"}],"name":[{"family":"Hansen","given":["Jens"]}]}'
    )
    lines += [
        "# create a citizen unless one with this CPR number exists (201, then 200)",
        f"curl -s{auth} -X POST '{base}/Patient' -H 'Content-Type: application/fhir+json'"
        f" -H 'If-None-Exist: identifier=urn:oid:1.2.208.176.1.2|0101901234' -d '{patient}'",
    ]
    transaction = Path(__file__).resolve().parent.parent / "examples" / "transaction.json"
    if transaction.exists():
        lines += [
            "# a transaction: a citizen and her encounter, all or nothing",
            f"curl -s{auth} -X POST '{base}' -H 'Content-Type: application/fhir+json'"
            f" -d @{transaction}",
        ]
    return lines


async def _who_sees_what(store: Store, services: Services, report: DemoReport) -> list[str]:
    """Who (each demo user) can see what (each citizen's data): the server's own access
    decision, asked for each user as their token would be (`auth.visibility`)."""
    from auth.demo import USERS
    from auth.visibility import table, who_sees_what

    users = [(u.username, u.fhir_user) for u in USERS]
    citizens = list(report.citizens)
    found = await who_sees_what(store, services.params, users, citizens, list(report.types))
    return table(found, report.citizens)


async def _register_demo(store: Store, base: str, rotate: bool) -> DemoCredentials:
    from auth.demo import register_demo
    from auth.storage import auth_store_for

    records = auth_store_for(store)
    await records.open()
    try:
        return await register_demo(records, base, rotate)
    finally:
        await records.close()


def _generate(args: argparse.Namespace) -> int:
    import time

    from dataset.synthetic import write  # lazily: see _demo

    started = time.perf_counter()
    counts = write(args.out, args.patients, args.seed)
    seconds = time.perf_counter() - started
    total = sum(counts.values())
    print(
        f"wrote {total} resources for {args.patients} citizens (seed {args.seed}) to {args.out} "
        f"in {seconds:.1f} s ({total / seconds:,.0f} resources/s)"
    )
    print(", ".join(f"{n} {t}" for t, n in counts.items()))
    print(f"load them with: fhir-server load {args.out}")
    return 0


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


STORE_EPILOG = (
    "Environment: FHIR_STORE_URL names the store (default sqlite:///./data/fhir.db;"
    " mongodb://… for a MongoDB replica set, database FHIR_MONGODB_DATABASE); the other"
    " FHIR_* settings are the server's (README: Configuration)."
)
"""Every command that opens the store says which one (the help's last paragraph)."""
_PROGRESS = "no progress bar (for logs and scripts); by default one on stderr"


def parser() -> argparse.ArgumentParser:
    """The command line: every command, option and its help (each option names the
    environment variable it defaults from, or says it has none)."""
    parser = argparse.ArgumentParser(
        prog="fhir-server",
        description="A FHIR R4 server: serve it, load data into its store, and register the"
        " SMART authorization server's clients, users and keys.",
        epilog="`fhir-server COMMAND --help` tells each command's options.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the FHIR server",
        description="Serve the FHIR API at /fhir, the API page at /docs and /health (uvicorn).",
        epilog=STORE_EPILOG,
    )
    serve.add_argument(
        "--host",
        default=os.environ.get("HOST", "127.0.0.1"),
        help="the interface to listen on (HOST; default 127.0.0.1, this machine only;"
        " 0.0.0.0 for every interface)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8080")),
        help="the port to listen on (PORT; default 8080)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WORKERS", "1")),
        help="server processes sharing the port (WORKERS; default 1)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="which server log messages to write (no environment variable; default info)",
    )
    serve.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        default=os.environ.get("FHIR_ACCESS_LOG", "json") != "off",
        help="no access log (FHIR_ACCESS_LOG=off); by default one JSON line per request on"
        " stderr: method, path, status, duration, client id — never query values or tokens",
    )

    load = sub.add_parser(
        "load",
        help="load ndjson / Bundle JSON files or directories",
        description="Load resources into the store, each validated as a write through the API"
        " is; a transaction Bundle loads whole or not at all. Each failure is reported with its"
        " file and line (or entry); the exit status is 1 if anything failed.",
        epilog=STORE_EPILOG,
    )
    load.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="an .ndjson file (a resource per line), a .json Bundle or resource, or a"
        " directory of them (searched recursively)",
    )
    load.add_argument("--no-progress", dest="progress", action="store_false", help=_PROGRESS)
    load.add_argument(
        "--referential-integrity",
        dest="check_references",
        action="store_true",
        help="refuse what references a local resource not loaded before it or with it (as the"
        " server refuses such a write; the server's FHIR_REFERENTIAL_INTEGRITY does not apply to"
        " load); off by default: files may reference each other in any order",
    )

    reindex = sub.add_parser(
        "reindex",
        help="rebuild the search index of every resource",
        description="Rebuild the search index of every current resource (after an upgrade"
        " that indexes more).",
        epilog=STORE_EPILOG,
    )
    reindex.add_argument("--no-progress", dest="progress", action="store_false", help=_PROGRESS)

    packages = sub.add_parser(
        "packages", help="install or list FHIR packages (.tgz)", epilog=STORE_EPILOG
    )
    actions = packages.add_subparsers(dest="action", required=True, metavar="ACTION")
    install = actions.add_parser(
        "install",
        help="a package's StructureDefinitions, ValueSets and CodeSystems",
        epilog=STORE_EPILOG,
    )
    install.add_argument("file", type=Path, help="the package (.tgz), e.g. an IG's package.tgz")
    install.add_argument(
        "--skip-unusable",
        action="store_true",
        help="install the rest when some resources cannot be used (default: all or nothing)",
    )
    actions.add_parser("list", help="the packages installed in the store", epilog=STORE_EPILOG)

    demo = sub.add_parser(
        "demo",
        help="load the demo data set (scenarios S1-S7) into the store",
        description="Load the demo data set, register the demo's SMART users and clients (with"
        " SMART on) and print working commands for the server it targets: FHIR_BASE_URL, else"
        " http://127.0.0.1:$PORT/fhir.",
        epilog=STORE_EPILOG,
    )
    demo.add_argument("--no-progress", dest="progress", action="store_false", help=_PROGRESS)
    demo.add_argument(
        "--rotate",
        action="store_true",
        help="new passwords, client secrets and backend key for the demo's users and clients"
        " (otherwise each run keeps those of the run before; no environment variable)",
    )

    generate = sub.add_parser(
        "generate",
        help="write a synthetic data set as ndjson files",
        description="Write a deterministic synthetic data set (about 11 resources per citizen)"
        " as ndjson files, for `fhir-server load`. Touches no store.",
    )
    generate.add_argument(
        "--patients",
        type=_positive,
        required=True,
        help="how many citizens (at least 1; no environment variable)",
    )
    generate.add_argument(
        "--seed",
        type=int,
        default=1,
        help="the random seed: the same seed writes the same data (default 1)",
    )
    generate.add_argument(
        "--out",
        type=Path,
        default=Path("synthetic"),
        help="the directory to write the ndjson files to (default ./synthetic)",
    )

    from auth.cli import add_parsers

    add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from fhir_server.store.base import StoreUnusable

    try:
        return _run(args)
    except StoreUnusable as err:  # a deployment problem, told as such: no traceback
        print(f"fhir-server: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(args)
    if args.command == "packages":
        return asyncio.run(_packages(args))
    if args.command == "reindex":
        return asyncio.run(_reindex(args.progress))
    if args.command == "demo":
        return asyncio.run(_demo(args.progress, args.rotate))
    if args.command == "generate":
        return _generate(args)
    if args.command in ("clients", "users", "keys", "token"):
        from auth.cli import run

        return run(args)
    return asyncio.run(_load(args.paths, args.progress, args.check_references))


if __name__ == "__main__":
    sys.exit(main())
