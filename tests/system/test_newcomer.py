"""A newcomer's first requests with SMART on (the default): ``fhir-server demo`` prints commands,
and those commands — pasted into a shell as printed, in order, against a real ``fhir-server
serve`` process — read, create (conditionally) and post a transaction. Nothing but what
``demo`` and ``token`` print is used; a second ``demo`` keeps the credentials it printed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.servers import HOST, free_port

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl on the PATH")

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A newcomer's environment: the defaults (SMART on, the Danish profiles required), a port of
    their own, and the virtual environment's commands on the PATH."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_")}
    return {
        **clean,
        "FHIR_STORE_URL": f"sqlite:///{tmp_path / 'fhir.db'}",
        "PORT": str(free_port()),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "fhir-server"), "serve", "--port", env["PORT"]],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(int(env["PORT"]), proc)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited during start-up"
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("the server did not start")


def _demo(env: dict[str, str], *extra: str) -> str:
    done = subprocess.run(
        ["fhir-server", "demo", "--no-progress", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _commands(printed: str, section: str) -> list[str]:
    """The shell commands (``export …``, ``curl …``) printed under the line starting with
    ``section``, up to the next line that is not indented."""
    lines = printed.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(section))
    found = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        if line.strip().startswith(("export ", "curl ")):
            found.append(line.strip())
    return found


def _run(commands: list[str], env: dict[str, str]) -> list[tuple[int, str]]:
    """Run ``commands`` in one bash, as pasted; each curl's (status, body)."""
    marker = "@@status="
    script = "\n".join(
        c.replace("curl ", f"curl -w '\\n{marker}%{{http_code}}\\n' ", 1) for c in commands
    )
    done = subprocess.run(
        ["bash", "-e", "-c", script], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    answers = []
    body: list[str] = []
    for line in done.stdout.splitlines():
        if line.startswith(marker):
            answers.append((int(line.removeprefix(marker)), "\n".join(body)))
            body = []
        else:
            body.append(line)
    return answers


def test_from_demo_output_to_read_write_and_transaction(
    env: dict[str, str], server: subprocess.Popen[bytes]
) -> None:
    printed = _demo(env)
    first = _commands(printed, "Try ")
    assert first[0].startswith("export TOKEN=$(fhir-server token demo-writer)")
    answers = _run(first, env)
    statuses = [status for status, _ in answers]
    assert statuses == [200] * 6 + [201, 200], answers
    assert '"resourceType":"Bundle"' in answers[0][1]
    transaction = answers[-1][1]
    assert '"type":"transaction-response"' in transaction
    assert transaction.count('"status":"201 Created"') == 2

    # run again, as a newcomer would: the same credentials, the conditional creates find theirs
    again = _demo(env)
    passwords = re.compile(r"^  (else|nanna) +(\S+) +(?:Patient|PractitionerRole)/", re.M)
    assert passwords.findall(again) == passwords.findall(printed)
    secret = re.compile(r"demo-writer:(\S+) ")
    assert secret.findall(again) == secret.findall(printed)
    answers = _run(_commands(again, "Try "), env)
    assert [status for status, _ in answers] == [200] * 8
    assert answers[-1][1].count('"status":"200 OK"') == 2

    # a citizen's own token (printed by demo): her data, nobody else's
    citizen = _commands(printed, "A test user's token")
    assert citizen == ["export TOKEN=$(fhir-server token demo-app --user else)"]
    base = f"http://127.0.0.1:{env['PORT']}/fhir"
    bearer = 'curl -s -H "Authorization: Bearer $TOKEN" '
    own, other = _run(
        [
            *citizen,
            f"{bearer}{base}/Patient/demo-s7-citizen",
            f"{bearer}{base}/Patient/demo-s2-child",
        ],
        env,
    )
    assert own[0] == 200 and '"id":"demo-s7-citizen"' in own[1]
    assert other[0] == 404

    rotated = _demo(env, "--rotate")
    assert secret.findall(rotated) != secret.findall(printed)

    # the README's examples, as written (its port and virtual environment made this test's)
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Calling it", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    block = block.replace("http://127.0.0.1:8080", f"http://127.0.0.1:{env['PORT']}")
    block = block.replace(".venv/bin/", f"{BIN}/").replace("\\\n", "")
    lines = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    answers = _run([line for line in lines if not line.startswith(f"{BIN}/fhir-server demo")], env)
    assert [status for status, _ in answers] == [200] * 5 + [200, 200] + [200] * 5 + [200], answers
    assert '"resourceType":"OperationOutcome"' in answers[6][1]  # $validate: 31 February
