"""Subscriptions against a real ``fhir-server serve`` process (`servers.py`): no notification is
lost when the server is SIGKILLed during a burst of writes and restarted on the same SQLite
file (the events are numbered from the outbox written with each change, delivered at least
once, in order); and websocket delivery to a real websocket client through the backport's
binding-token flow."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from fhir_server.subscriptions.topics import TOPIC_BASE
from tests.support.receiver import event_numbers, focus, notification_type
from tests.system.servers import HOST, Launcher, Server

ENV = {"FHIR_SUBSCRIPTION_POLL_SECONDS": "0.02", "FHIR_SUBSCRIPTION_RETRY_SECONDS": "0.1"}


class _Hook(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with hook.lock:
                    hook.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        super().__init__((HOST, 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/hook"

    def events(self) -> dict[int, str]:
        """Event number → focus of every event received (a redelivery repeats one)."""
        with self.lock:
            bodies = list(self.bodies)
        out: dict[int, str] = {}
        for b in bodies:
            if notification_type(b) == "event-notification":
                for n, f in zip(event_numbers(b), focus(b), strict=True):
                    assert out.setdefault(n, f) == f, "one event number, two resources"
        return out


def _subscription(channel: str, endpoint: str | None = None) -> dict[str, Any]:
    sub: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "system test",
        "criteria": TOPIC_BASE + "careplan-changed",
        "channel": {"type": channel, "payload": "application/fhir+json"},
    }
    if endpoint:
        sub["channel"]["endpoint"] = endpoint
    return sub


def _until(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def _status(server: Server, sid: str) -> str:
    with httpx.Client(base_url=server.base, timeout=30) as c:
        return str(c.get(f"Subscription/{sid}").json()["status"])


def test_no_notification_is_lost_across_sigkill_during_a_burst(tmp_path: Path) -> None:
    hook = _Hook()
    try:
        with Launcher(tmp_path / "fhir.db", ENV) as launcher:
            server = launcher.start()
            with httpx.Client(base_url=server.base, timeout=30) as c:
                patient = c.post("Patient", json={"resourceType": "Patient"}).json()["id"]
                r = c.post("Subscription", json=_subscription("rest-hook", hook.url))
                assert r.status_code == 201, r.text
                sid = r.json()["id"]
            assert _until(lambda: _status(server, sid) == "active")
            current = {"base": server.base}
            committed: list[str] = []
            stop = threading.Event()

            def write() -> None:  # a burst of writes, across the kill and the restart
                while not stop.is_set():
                    plan = {
                        "resourceType": "CarePlan",
                        "status": "active",
                        "intent": "plan",
                        "subject": {"reference": f"Patient/{patient}"},
                    }
                    try:
                        r = httpx.post(f"{current['base']}/CarePlan", json=plan, timeout=10)
                    except httpx.HTTPError:
                        time.sleep(0.01)
                        continue  # the server is down: the write may or may not have committed
                    if r.status_code == 201:
                        committed.append(f"CarePlan/{r.json()['id']}")

            writer = threading.Thread(target=write)
            writer.start()
            try:
                assert _until(lambda: len(hook.events()) >= 5)
                server.kill()  # mid-burst: writes, dispatch and deliveries in flight
                server = launcher.start()
                current["base"] = server.base
                assert _until(lambda: len(committed) >= 40)
            finally:
                stop.set()
                writer.join()
            with httpx.Client(base_url=server.base, timeout=30) as c:
                found = c.get("CarePlan", params={"_count": "1000", "_elements": "id"}).json()
                stored = {f"CarePlan/{e['resource']['id']}" for e in found.get("entry", [])}
            assert set(committed) <= stored
            # every stored CarePlan (committed, whether or not its response arrived) is notified
            assert _until(lambda: set(hook.events().values()) >= stored), len(
                stored - set(hook.events().values())
            )
            events = hook.events()
            assert sorted(events) == list(range(1, len(stored) + 1))  # numbered without gaps
            assert set(events.values()) == stored  # nothing for what was not stored
    finally:
        hook.shutdown()
        hook.server_close()


def test_websocket_binding_token_flow_delivers_to_a_real_client(tmp_path: Path) -> None:
    with Launcher(tmp_path / "fhir.db", ENV) as launcher:
        server = launcher.start()
        with httpx.Client(base_url=server.base, timeout=30) as c:
            patient = c.post("Patient", json={"resourceType": "Patient"}).json()["id"]
            r = c.post("Subscription", json=_subscription("websocket"))
            assert r.status_code == 201, r.text
            sid = r.json()["id"]
            r = c.post(f"Subscription/{sid}/$get-ws-binding-token")
            assert r.status_code == 200, r.text
            params = {p["name"]: p for p in r.json()["parameter"]}
            url = params["websocket-url"]["valueUrl"]
            assert url.startswith(f"ws://{HOST}:{server.port}/fhir/")
            with connect(url) as ws:
                ws.send(f"bind-with-token {params['token']['valueString']}")
                handshake = json.loads(ws.recv(timeout=30))
                assert notification_type(handshake) == "handshake"
                plan = {
                    "resourceType": "CarePlan",
                    "status": "active",
                    "intent": "plan",
                    "subject": {"reference": f"Patient/{patient}"},
                }
                made = c.post("CarePlan", json=plan).json()["id"]
                note = json.loads(ws.recv(timeout=30))
                assert notification_type(note) == "event-notification"
                assert event_numbers(note) == [1]
                assert focus(note) == [f"CarePlan/{made}"]
            assert _status(server, sid) == "active"
            again = c.post(f"Subscription/{sid}/$get-ws-binding-token")
            with connect(params["websocket-url"]["valueUrl"]) as ws:
                ws.send(f"bind-with-token {params['token']['valueString']}")  # used: refused
                assert "error" in json.loads(ws.recv(timeout=30))
                token = {p["name"]: p for p in again.json()["parameter"]}["token"]["valueString"]
                ws.send(f"bind-with-token {token}")
                assert notification_type(json.loads(ws.recv(timeout=30))) == "handshake"
