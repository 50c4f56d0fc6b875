"""The ``fhir-server`` command: serve, load, reindex, packages, demo, generate, and the
authorization server's clients, users and keys (``auth/cli.py``)."""

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

    settings = Settings()
    if settings.auth == "off":
        from fhir_server.app import OFF_WARNING

        print(OFF_WARNING, file=sys.stderr)
    # one paging-cursor secret per start, shared by every worker (search/cursor.py)
    os.environ.setdefault("FHIR_CURSOR_SECRET", secrets.token_hex(32))
    print(
        f"FHIR base: http://{args.host}:{args.port}/fhir  (store: {settings.store_url},"
        f" authorization: {settings.auth})"
    )
    uvicorn.run(
        "fhir_server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
    )
    return 0


async def _load(paths: list[Path], progress: bool) -> int:
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
        report = await Loader(store, settings, services).load(paths, progress)
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
    from fhir_server.services import create_services
    from fhir_server.store.factory import make_store

    settings = Settings()
    services = create_services(settings)
    store = make_store(settings, services.indexer)
    await store.open()
    await services.custom.sync(store)
    total = 0
    try:
        with tqdm(unit=" resources", disable=not progress, dynamic_ncols=True) as bar:
            for type_ in sorted(SERVED_TYPES):
                bar.set_description(type_)
                async for done in store.reindex_type(type_):
                    total += done
                    bar.update(done)
    finally:
        await store.close()
    print(f"reindexed {total} resources")
    return 0


async def _demo(progress: bool) -> int:
    # The demo data set is not part of the server (production code never imports it): the
    # `demo` and `generate` commands are the one place it is imported, lazily, here.
    from dataset.demo import EXAMPLES, load_demo
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
            credentials = await _register_demo(store)
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
    base = settings.base_url or f"http://127.0.0.1:{os.environ.get('PORT', '8080')}/fhir"
    print("Try (with `fhir-server serve` running):")
    for title, query in EXAMPLES:
        print(f"  {title}:\n    {base}/{query}")
    print("\n".join(who_sees_what))
    if credentials is not None:
        from auth.demo import usage

        print("\n".join(usage(base, credentials)))
    return 1 if report.failures else 0


async def _who_sees_what(store: Store, services: Services, report: DemoReport) -> list[str]:
    """Who (each demo user) can see what (each citizen's data): the server's own access
    decision, asked for each user as their token would be (`auth.visibility`)."""
    from auth.demo import USERS
    from auth.visibility import table, who_sees_what

    users = [(u.username, u.fhir_user) for u in USERS]
    citizens = list(report.citizens)
    found = await who_sees_what(store, services.params, users, citizens, list(report.types))
    return table(found, report.citizens)


async def _register_demo(store: Store) -> DemoCredentials:
    from auth.demo import register_demo
    from auth.storage import auth_store_for

    records = auth_store_for(store)
    await records.open()
    try:
        return await register_demo(records)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fhir-server", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the FHIR server (uvicorn)")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "1")))
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--no-access-log", dest="access_log", action="store_false")

    load = sub.add_parser("load", help="load ndjson / Bundle JSON files or directories")
    load.add_argument("paths", nargs="+", type=Path)
    load.add_argument("--no-progress", dest="progress", action="store_false")

    reindex = sub.add_parser("reindex", help="rebuild the search index of every resource")
    reindex.add_argument("--no-progress", dest="progress", action="store_false")

    packages = sub.add_parser("packages", help="install or list FHIR packages (.tgz)")
    actions = packages.add_subparsers(dest="action", required=True)
    install = actions.add_parser(
        "install", help="a package's StructureDefinitions, ValueSets and CodeSystems"
    )
    install.add_argument("file", type=Path)
    install.add_argument(
        "--skip-unusable",
        action="store_true",
        help="install the rest when some resources cannot be used (default: all or nothing)",
    )
    actions.add_parser("list", help="the packages installed in the store")

    demo = sub.add_parser("demo", help="load the demo data set (scenarios S1-S7) into the store")
    demo.add_argument("--no-progress", dest="progress", action="store_false")

    generate = sub.add_parser("generate", help="write a synthetic data set as ndjson files")
    generate.add_argument("--patients", type=_positive, required=True)
    generate.add_argument("--seed", type=int, default=1)
    generate.add_argument("--out", type=Path, default=Path("synthetic"))

    from auth.cli import add_parsers

    add_parsers(sub)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "packages":
        return asyncio.run(_packages(args))
    if args.command == "reindex":
        return asyncio.run(_reindex(args.progress))
    if args.command == "demo":
        return asyncio.run(_demo(args.progress))
    if args.command == "generate":
        return _generate(args)
    if args.command in ("clients", "users", "keys"):
        from auth.cli import run

        return run(args)
    return asyncio.run(_load(args.paths, args.progress))


if __name__ == "__main__":
    sys.exit(main())
