"""The import layers: `fhir_server` meets `auth` only in its bootstrap, through
`fhir_server.access` (docs/architecture.md). Read from the source with `ast`, so a function-level
import counts as much as a module-level one."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = frozenset({"fhir_server/app.py", "fhir_server/cli.py"})
"""The composition roots (the ASGI app and the command line): the only `fhir_server` modules
that may import `auth`, to wire it in."""


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = _module(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[: len(package) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            out.add(base)
            out |= {f"{base}.{alias.name}" for alias in node.names}
    return out


def _edges(package: str) -> dict[str, set[str]]:
    """{file relative to the repository: modules it imports} for every file of ``package``."""
    return {
        path.relative_to(ROOT).as_posix(): _imports(path)
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _offending(package: str, banned: tuple[str, ...], allowed: frozenset[str] = frozenset()):
    return sorted(
        f"{file} imports {name}"
        for file, names in _edges(package).items()
        if file not in allowed
        for name in names
        if any(name == b or name.startswith(b + ".") for b in banned)
    )


def test_the_server_imports_auth_only_in_its_bootstrap() -> None:
    assert _offending("fhir_server", ("auth",), BOOTSTRAP) == []


def test_interactions_and_bundles_never_import_auth() -> None:
    for package in ("fhir_server/interactions", "fhir_server/bundles"):
        assert _offending(package, ("auth",)) == []


def test_stores_never_import_auth() -> None:
    assert _offending("fhir_server/store", ("auth",)) == []


def test_auth_never_imports_the_interaction_layer() -> None:
    assert _offending("auth", ("fhir_server.interactions", "fhir_server.bundles")) == []


def test_auth_never_imports_the_dataset() -> None:
    """The Danish identifier systems live in profiles/danish/, shared by validator, auth and the
    data set (which lives outside the server package)."""
    assert _offending("auth", ("dataset", "fhir_server.dataset")) == []


def test_auth_never_imports_a_concrete_store() -> None:
    assert _offending("auth", ("fhir_server.store.sqlite", "fhir_server.store.mongo")) == []
