"""Real server processes for the crash and multi-process tests: ``fhir-server serve`` (uvicorn,
one worker) on a SQLite file, reached over real HTTP on a real port.

Starting a server costs seconds of CPU before it touches the store (imports, compiling the
validator's rules), too much for a test that restarts one twenty times. So `Launcher` runs one
process that does that work once and then forks a child per server: each child is a separate
process with its own pid that runs the ``fhir-server serve`` entry point (``cli.main``), opens the
store, and can be SIGKILLed on its own. Nothing in the launcher has opened the store.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"

_LAUNCHER = """
import ctypes, gc, os, signal, sys
import uvicorn  # noqa: F401 -- the slow imports, before any store is opened
import fhir_server.app  # noqa: F401
from fhir_server.cli import main
from profiles.validation import Validator
Validator.default().compile_all()  # kept; each server's start-up finds it done
gc.collect()
gc.freeze()  # what is alive now is shared with the servers, out of their collector's way
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the servers
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the launcher
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        quiet = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(quiet, fd)
        code = 1
        try:
            code = main(line.split())
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        finally:
            os._exit(code)
    print(pid, flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Server:
    """One running ``fhir-server serve`` process."""

    def __init__(self, pid: int, port: int) -> None:
        self.pid = pid
        self.port = port

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}/fhir"

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the process is killed by the OOM killer."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGINT)

    def _signal(self, sig: int, timeout: float = 15) -> None:
        if _alive(self.pid):
            os.kill(self.pid, sig)
        deadline = time.monotonic() + timeout
        while _alive(self.pid):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
            time.sleep(0.01)


class Launcher:
    """Starts servers on ``db`` with authorization off (these tests are about storage) and no
    conformance resources installed (they only slow each start). Use as a context manager."""

    def __init__(self, db: Path, env: dict[str, str] | None = None) -> None:
        """``env``: more settings for its servers (``FHIR_…``)."""
        env = {
            **os.environ,
            **(env or {}),
            "FHIR_STORE_URL": f"sqlite:///{db}",
            "FHIR_REQUIRED_PROFILES": "{}",
            "FHIR_AUTH": "off",
            "FHIR_INSTALL_CONFORMANCE": "false",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.servers: list[Server] = []

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *exc: object) -> None:
        """The launcher ends when its input does, and takes any server still running with it
        (each dies with its parent), even if this test process is killed instead."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            for server in self.servers:
                server.kill()
        finally:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
            self.proc.stdout.close()

    def start(self, timeout: float = 60) -> Server:
        """A new server process; returns once it accepts connections (uvicorn binds the port
        after the application's start-up, so its store is open then)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        port = free_port()
        serve = f"serve --host {HOST} --port {port} --workers 1 --no-access-log --log-level warning"
        self.proc.stdin.write(f"{serve}\n".encode())
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the launcher exited with {self.proc.poll()}"
        server = Server(int(line), port)
        self.servers.append(server)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert _alive(server.pid), "the server exited during start-up"
            try:
                with socket.create_connection((HOST, port), timeout=0.2):
                    return server
            except OSError:
                time.sleep(0.01)
        raise TimeoutError(f"server on port {port} did not start")
