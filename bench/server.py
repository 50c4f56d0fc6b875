"""Server subprocesses: start on a free port, wait until it accepts connections, always stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
UVICORN_FLAGS = ["--log-level", "warning", "--no-access-log"]
"""Quiet: the write measurements' servers (their logging is not what they measure)."""
DEFAULT_LOGGING: list[str] = []
"""``fhir-server serve`` as a newcomer starts it: log level info, the JSON access log
(``FHIR_ACCESS_LOG=json``) — what the read-by-id rows measure (issue 15)."""


@dataclass
class Server:
    port: int
    pid: int


def worker_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of each worker process of a ``--workers N`` server (its children
    that used any; uvicorn's supervisor also starts an idle helper)."""
    from bench.loadgen import process_cpu_seconds

    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            children = [int(c) for c in fh.read().split()]
    except FileNotFoundError:
        return {}
    return {c: process_cpu_seconds(c) for c in children}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pinned(cpu: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` pinning the child to one CPU (None: leave it to the scheduler)."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def fhir_command(port: int, workers: int = 1, flags: list[str] = UVICORN_FLAGS) -> list[str]:
    serve = [str(BIN / "fhir-server"), "serve", "--host", HOST, "--port", str(port)]
    return [*serve, "--workers", str(workers), *flags]


def uvicorn_access_log_command(port: int) -> list[str]:
    """The FHIR server as ``make serve`` ran it before issue 15: uvicorn's own access log (the
    whole request line, at info) instead of the server's (run with ``FHIR_ACCESS_LOG=off``)."""
    return [
        sys.executable,
        *("-m", "uvicorn", "fhir_server.app:create_app", "--factory"),
        *("--host", HOST, "--port", str(port), "--workers", "1"),
    ]


def ceiling_command(port: int) -> list[str]:
    return [
        sys.executable,
        *("-m", "uvicorn", "bench.ceiling:app", "--host", HOST, "--port", str(port)),
        *("--workers", "1", *UVICORN_FLAGS),
    ]


@contextlib.contextmanager
def running(
    command: list[str], port: int, env: dict[str, str], log: Path, cpu: int | None
) -> Iterator[Server]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=pinned(cpu),
        )
    try:
        _wait_for_port(proc, port, log)
        yield Server(port, proc.pid)
    finally:
        _stop(proc)


def _wait_for_port(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server did not open port {port} within 60 s; see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
