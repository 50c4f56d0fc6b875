"""Copy the browser libraries the apps and their tests use out of npm's published packages.

The apps under ``/apps/`` run without a build step and without a CDN, so the few JavaScript
libraries they use are committed beside them. This script is how they got there, and how to
update them: each package is fetched from the npm registry at a pinned version, its tarball is
checked against the registry's published ``sha512`` integrity, and only the named files (the
ready-built browser bundle and its licence) are copied out.

    python scripts/vendor_js.py            # (re)write the files
    python scripts/vendor_js.py --check    # exit 1 if a committed file differs from its package

Packages:
- ``fhirclient`` (SMART Health IT's SMART on FHIR JavaScript client): the apps' OAuth 2 launch,
  PKCE and token handling, so no app hand-writes OAuth.
- ``chart.js``: the indicator dashboard's charts.
- ``axe-core`` (Deque): the accessibility check the browser tests run inside each page; test
  only, so it lives under tests/.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = "https://registry.npmjs.org"
APPS_VENDOR = ROOT / "fhir_server" / "apps" / "vendor"
TEST_VENDOR = ROOT / "tests" / "support" / "vendor"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str
    """The registry's ``dist.integrity`` for this version (``sha512-<base64>``)."""
    files: dict[str, Path]
    """Path inside the tarball (below ``package/``) → where it is committed."""

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"


PACKAGES = (
    Package(
        "fhirclient",
        "2.6.3",
        "sha512-CirZixcwWelbkIXxpxlNQx5+ZdJirl6F1s4y4yvA1X7hHAkr9n99aVHaMi0wX+97nATjKQ65X6NB5as/wZoJzg==",
        {
            "build/fhir-client.pure.min.js": APPS_VENDOR / "fhir-client.pure.min.js",
            "LICENSE": APPS_VENDOR / "fhirclient.LICENSE.txt",
        },
    ),
    Package(
        "chart.js",
        "4.6.1",
        "sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g==",
        {
            "dist/chart.umd.min.js": APPS_VENDOR / "chart.umd.min.js",
            "LICENSE.md": APPS_VENDOR / "chart.js.LICENSE.md",
        },
    ),
    Package(
        "axe-core",
        "4.14.1",
        "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
        {
            "axe.min.js": TEST_VENDOR / "axe.min.js",
            "LICENSE": TEST_VENDOR / "axe-core.LICENSE.txt",
        },
    ),
)


def _verified(package: Package) -> bytes:
    with urllib.request.urlopen(package.tarball, timeout=60) as response:
        data: bytes = response.read()
    algorithm, _, expected = package.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{package.name}@{package.version}: integrity mismatch ({actual})")
    return data


def _members(package: Package) -> dict[Path, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(_verified(package)), mode="r:gz") as archive:
        for inside, target in package.files.items():
            member = archive.extractfile(f"package/{inside}")
            if member is None:
                raise SystemExit(f"{package.name}: no {inside} in the package")
            out[target] = member.read()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    stale = []
    for package in PACKAGES:
        for target, content in _members(package).items():
            if args.check:
                if not target.exists() or target.read_bytes() != content:
                    stale.append(target.relative_to(ROOT))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            print(f"{package.name}@{package.version} → {target.relative_to(ROOT)}")
    for path in stale:
        print(f"stale: {path} (run python scripts/vendor_js.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
