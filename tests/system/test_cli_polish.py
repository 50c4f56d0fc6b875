"""The command line a newcomer meets (issue 15 item 9): every option of ``serve``, ``load``,
``generate``, ``demo`` and ``reindex`` explains itself and names the environment variable it
maps to, no help names a module path; ``clients list`` shows each client's scopes and redirect
URIs; ``load`` reports a missing path as a failure like any other (no traceback) and goes on
with the rest; ``load`` and ``reindex`` show a progress bar with its total and the time left."""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

import orjson
import pytest

from fhir_server.cli import main, parser
from tests.system.processes import BIN, newcomer_env

COMMANDS = ("serve", "load", "generate", "demo", "reindex")
ENVIRONMENT = {
    ("serve", "--host"): "HOST",
    ("serve", "--port"): "PORT",
    ("serve", "--workers"): "WORKERS",
    ("serve", "--no-access-log"): "FHIR_ACCESS_LOG",
}


def _subcommands(top: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in _subcommands(sub).items()})
    return found


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_naming_its_environment_variable(command: str) -> None:
    sub = _subcommands(parser())[command]
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = action.option_strings[-1] if action.option_strings else action.dest
        assert action.help, f"{command} {name} has no help"
        variable = ENVIRONMENT.get((command, name))
        if variable is not None:
            assert variable in action.help, (command, name, action.help)
    if command != "generate":  # writes files, not to a store
        assert "FHIR_STORE_URL" in (sub.epilog or ""), command


def test_every_option_of_every_command_has_help() -> None:
    for command, sub in _subcommands(parser()).items():
        for action in sub._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, (command, action.option_strings or action.dest)


def test_no_help_names_a_module_path() -> None:
    top = parser()
    pages = [top.format_help()] + [p.format_help() for p in _subcommands(top).values()]
    for page in pages:
        assert not re.search(r"\w+/\w+\.py|fhir_server\.|auth\.\w", page), page


def test_help_through_the_installed_command() -> None:
    done = subprocess.run(
        [str(BIN / "fhir-server"), "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert "--workers WORKERS" in done.stdout and "(WORKERS;" in done.stdout


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "fhir.db"
    monkeypatch.setenv("FHIR_STORE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("FHIR_INSTALL_CONFORMANCE", "false")
    monkeypatch.delenv("FHIR_AUTH", raising=False)
    return path


def _patients(path: Path, n: int, bad: int | None = None) -> Path:
    lines = [
        b"{not json" if i == bad else orjson.dumps({"resourceType": "Patient", "id": f"p{i}"})
        for i in range(n)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_a_missing_path_is_a_failure_like_any_other(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _patients(tmp_path / "patients.ndjson", 3, bad=1)
    missing = tmp_path / "no-such.ndjson"
    assert main(["load", "--no-progress", str(missing), str(src)]) == 1
    out, err = capsys.readouterr()
    assert f"FAILED {missing}: no such file or directory" in err
    assert f"FAILED {src}:2: invalid JSON" in err
    assert "Traceback" not in err
    assert "loaded 2, failed 2" in out


def test_load_shows_its_total_and_the_time_left(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _patients(tmp_path / "patients.ndjson", 7, bad=3)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Organization", "id": f"o{i}", "name": f"Org {i}"}}
            for i in range(2)
        ],
    }
    (tmp_path / "orgs.json").write_bytes(orjson.dumps(bundle))
    assert main(["load", str(src), str(tmp_path / "orgs.json")]) == 1
    out, err = capsys.readouterr()
    assert "loaded 8, failed 1" in out
    assert re.search(r"100%\|.*\| 9/9 \[\d\d:\d\d<\d\d:\d\d", err), err  # total, elapsed<left


def test_reindex_shows_its_total_and_each_type_plainly(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load", "--no-progress", str(_patients(tmp_path / "p.ndjson", 5))]) == 0
    capsys.readouterr()
    assert main(["reindex"]) == 0
    out, err = capsys.readouterr()
    assert "reindexed 5 resources" in out
    assert re.search(r"reindex: 100%\|.*\| 5/5 \[\d\d:\d\d<\d\d:\d\d", err), err
    assert ": :" not in err


def test_clients_list_shows_scopes_and_redirect_uris(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    redirect = "https://app.example.dk/callback"
    assert main(["clients", "add", "web", "--type", "public", "--redirect-uri", redirect,
                 "--scope", "launch/patient patient/*.rs"]) == 0  # fmt: skip
    assert main(["clients", "add", "svc", "--type", "confidential-symmetric", "--backend",
                 "--scope", "system/Patient.rs"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["clients", "list"]) == 0
    out = capsys.readouterr().out
    assert (
        "svc\tconfidential-symmetric\tclient_credentials\t\n"
        "  scopes: system/Patient.rs\n"
        "  redirect URIs: (none)\n"
    ) in out
    assert "web\tpublic\tauthorization_code refresh_token\t\n" in out
    assert "  scopes: launch/patient patient/*.rs\n" in out
    assert f"  redirect URIs: {redirect}\n" in out


def test_the_newcomer_environment_runs_help(tmp_path: Path) -> None:
    """`fhir-server --help` names no module path either (the program's own description)."""
    done = subprocess.run(
        [str(BIN / "fhir-server"), "--help"],
        env=newcomer_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and ".py" not in done.stdout
