"""The demo data set is not part of the server: no module of the server, the authorization layer
or the profiles imports it, except the CLI's ``demo`` and ``generate`` commands (lazily)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {"fhir_server/cli.py"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_production_code_never_imports_the_data_set() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("fhir_server", "auth", "profiles")
        for path in sorted((ROOT / package).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in ALLOWED
        and any(name == "dataset" or name.startswith("dataset.") for name in _imports(path))
    ]
    assert offenders == []
    assert not (ROOT / "fhir_server" / "dataset").exists()
