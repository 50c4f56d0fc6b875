"""``fhir-server`` commands and ``serve`` processes as a newcomer runs them: the default settings
(SMART on, the Danish profiles required), a port of their own, output kept for the test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.system.servers import HOST, free_port

BIN = Path(sys.executable).parent


def newcomer_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment without any ``FHIR_*`` setting but the store (a fresh SQLite file) and
    ``extra``; no conformance resources installed (they only slow each start)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_")}
    return {
        **clean,
        "FHIR_STORE_URL": f"sqlite:///{tmp_path / 'fhir.db'}",
        "FHIR_INSTALL_CONFORMANCE": "false",
        "PORT": str(free_port()),
        **extra,
    }


def cli(env: dict[str, str], *argv: str) -> str:
    """Run ``fhir-server argv``; its standard output (it must succeed)."""
    done = subprocess.run(
        [str(BIN / "fhir-server"), *argv], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class Served:
    """A ``fhir-server serve`` process with its output in a file, read after it stopped."""

    def __init__(self, env: dict[str, str], tmp_path: Path, *argv: str) -> None:
        self.port = int(env["PORT"])
        self.out = tmp_path / f"serve-{self.port}.log"
        with self.out.open("wb") as sink:
            self.proc = subprocess.Popen(
                [str(BIN / "fhir-server"), "serve", "--port", str(self.port), *argv],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, self.out.read_text()
            try:
                with socket.create_connection((HOST, self.port), timeout=0.2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        self.base = f"http://{HOST}:{self.port}/fhir"

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)
        return self.out.read_text()

    def raw(self, request: bytes, wait: float = 0) -> bytes:
        with socket.create_connection((HOST, self.port)) as s:
            s.sendall(request)
            if wait:
                time.sleep(wait)
                return b""
            s.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := s.recv(65536):
                got += chunk
            return got
