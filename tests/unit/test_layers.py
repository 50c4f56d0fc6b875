"""The import layers: `fhir_server` meets `auth` only in its bootstrap, through
`fhir_server.access` (docs/architecture.md). Read from the source with `ast`, so a function-level
import counts as much as a module-level one; and no import cycles among the modules loaded with
a module (the cycle test counts module-level imports only: deferring one is how a cycle is cut)."""

from __future__ import annotations

import ast
from collections.abc import Collection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = frozenset({"fhir_server/app.py", "fhir_server/cli.py"})
"""The composition roots (the ASGI app and the command line): the only `fhir_server` modules
that may import `auth`, to wire it in."""


def _module(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
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


def test_the_server_imports_medcom_only_in_its_bootstrap() -> None:
    """MedCom messaging (`medcom/`) builds on the server; the server knows nothing of it but
    for the bootstrap adding its operations to the router."""
    assert _offending("fhir_server", ("medcom",), BOOTSTRAP) == []


def test_medcom_never_imports_auth() -> None:
    assert _offending("medcom", ("auth",)) == []


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


CYCLE_PACKAGES = ("fhir_server", "auth", "profiles", "medcom")
"""The project's packages whose modules may not import each other in a circle."""


def _is_type_checking(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _load_time_imports(
    module: str, is_package: bool, body: list[ast.stmt], modules: Collection[str]
) -> set[str]:
    """The project modules executing ``body`` imports by name: module level (classes, ``try``,
    ``if`` included), not inside functions (run later) nor under ``if TYPE_CHECKING:`` (never
    run). ``from package import submodule`` names the submodule; ``from package import name``
    the package (its ``__init__`` must have run to define the name)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    out: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or _is_type_checking(node):
            continue
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[: len(package) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in modules else base)
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                out |= _load_time_imports(module, is_package, inner, modules)
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """{module: the project's modules it imports when it is loaded} over `CYCLE_PACKAGES`."""
    files = {
        _module(path, root): path
        for package in CYCLE_PACKAGES
        for path in sorted((root / package).rglob("*.py"))
    }
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        names = _load_time_imports(module, path.name == "__init__.py", tree.body, files)
        graph[module] = {
            loaded
            for name in names
            for loaded in _loading(name, module)
            if loaded in files and loaded != module
        }
    return graph


def _loading(name: str, importer: str) -> set[str]:
    """The modules importing ``name`` runs: it, and those of its packages that are not the
    importer's own (they are always loaded before the importer, whatever it imports)."""
    parts = name.split(".")
    own = importer.split(".")
    return {name} | {".".join(parts[:n]) for n in range(1, len(parts)) if parts[:n] != own[:n]}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(groups)


def test_no_import_cycles() -> None:
    """No module of fhir_server, auth or profiles imports, while it loads, a module that
    (through others) imports it back: load order would decide what is defined."""
    assert import_cycles(import_graph()) == []


def test_the_cycle_finder_sees_a_circle_and_only_load_time_imports(tmp_path: Path) -> None:
    """The finder itself: a circle through module-level imports is found; imports inside
    functions and under ``if TYPE_CHECKING:`` (the ways to break one) do not count."""
    pkg = tmp_path / "fhir_server"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from fhir_server import b\n")
    (pkg / "b.py").write_text(
        "try:\n    from fhir_server.c import X\nexcept ImportError:\n    pass\n"
    )
    (pkg / "c.py").write_text("import fhir_server.a\n\nX = 1\n")
    (pkg / "d.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from fhir_server import e\n"
    )
    (pkg / "e.py").write_text("def f():\n    from fhir_server import d\n")
    assert import_cycles(import_graph(tmp_path)) == [
        ["fhir_server.a", "fhir_server.b", "fhir_server.c"]
    ]
