"""The ``fhir-server`` command: serve, load."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from pathlib import Path

from fhir_server.config import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    # one paging-cursor secret per start, shared by every worker (search/cursor.py)
    os.environ.setdefault("FHIR_CURSOR_SECRET", secrets.token_hex(32))
    print(f"FHIR base: http://{args.host}:{args.port}/fhir  (store: {settings.store_url})")
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
    from fhir_server.checks import configure
    from fhir_server.loader import Loader
    from fhir_server.search.custom import CUSTOM
    from fhir_server.store.factory import make_store

    settings = Settings()
    configure(settings)  # the same checks as the server's writes
    store = make_store(settings)
    await store.open()
    await CUSTOM.sync(store)  # the server's own SearchParameters are indexed too
    try:
        report = await Loader(store, settings).load(paths, progress)
    finally:
        await store.close()
    for failure in report.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(f"loaded {report.loaded}, failed {len(report.failures)}")
    return 1 if report.failures else 0


async def _reindex(progress: bool) -> int:
    from tqdm import tqdm

    from fhir_server.resource_types import SERVED_TYPES
    from fhir_server.search.custom import CUSTOM
    from fhir_server.store.factory import make_store

    store = make_store(Settings())
    await store.open()
    await CUSTOM.sync(store)
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

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "reindex":
        return asyncio.run(_reindex(args.progress))
    return asyncio.run(_load(args.paths, args.progress))


if __name__ == "__main__":
    sys.exit(main())
