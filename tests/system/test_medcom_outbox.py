"""The MedCom outbox between two real server processes on loopback: a hospital's server sends
CareCommunications to a municipality's (a second instance of this server, whose
``$process-message`` files them and answers with an Acknowledgement). The sender is SIGKILLed
again and again while it delivers and restarted on the same SQLite file: every message is
acknowledged in the end and filed by the receiver exactly once (nothing lost, nothing
duplicated). A message to a receiver that never answers is sent three times (resent twice,
each time after the silence) and then failed.

Each server is a real ``fhir-server serve`` (uvicorn) process (`servers.py`); the delivery
worker runs inside it (its lifespan). Short intervals (``FHIR_MEDCOM_*``) stand in for MedCom's
30 minutes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from medcom.outbox import OUTBOX
from tests.medcom.record import ASK, GLN, RECEIVER_SOR, RECORD, SOR, parameters
from tests.system.servers import HOST, Launcher, Server, free_port

SILENT_SOR = "888888888888"
SILENT = {
    "resourceType": "Organization",
    "id": "silent",
    "name": "Lukket postkasse",
    "identifier": [{"system": SOR, "value": SILENT_SOR}, {"system": GLN, "value": "5790000209354"}],
}
ROUNDS = 4
PER_ROUND = 3


def _load(server: Server, extra: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    with httpx.Client(base_url=server.base, timeout=30) as c:
        for r in [*RECORD, *extra]:
            resp = c.put(f"{r['resourceType']}/{r['id']}", json=r)
            assert resp.status_code in (200, 201), resp.text


def _send(server: Server, receiver: str = "Organization/homecare") -> str:
    with httpx.Client(base_url=server.base, timeout=30) as c:
        resp = c.post(
            "CarePlan/plan/$medcom-carecommunication",
            json=parameters(**{**ASK, "receiver": receiver}, send=True),
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["entry"][0]["resource"]["id"])


def _tasks(server: Server) -> dict[str, dict[str, Any]]:
    with httpx.Client(base_url=server.base, timeout=30) as c:
        resp = c.get("Task", params={"code": f"{OUTBOX}|deliver", "_count": "1000"})
        assert resp.status_code == 200, resp.text
        return {e["resource"]["id"]: e["resource"] for e in resp.json().get("entry", [])}


def _until(check: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def _attempts(task: dict[str, Any]) -> int:
    return next(
        int(o["valueUnsignedInt"]) for o in task["output"] if o["type"]["text"] == "attempts"
    )


def test_delivery_survives_sigkill_and_silence_ends_in_failed(tmp_path: Path) -> None:
    with Launcher(tmp_path / "municipality.db") as municipality:
        receiver = municipality.start()
        _load(receiver)
        env = {
            "FHIR_MEDCOM_SENDER": "ward",
            "FHIR_MEDCOM_ENDPOINTS": json.dumps(
                {
                    RECEIVER_SOR: f"{receiver.base}/$process-message",
                    SILENT_SOR: f"http://{HOST}:{free_port()}/fhir/$process-message",
                }
            ),
            "FHIR_MEDCOM_RESEND_SECONDS": "1",
            "FHIR_MEDCOM_POLL_SECONDS": "0.05",
            "FHIR_MEDCOM_DELIVERY_TIMEOUT_SECONDS": "2",
        }
        with Launcher(tmp_path / "hospital.db", env) as hospital:
            sender = hospital.start()
            _load(sender, [SILENT])
            silent = _send(sender, "Organization/silent")
            sent: list[str] = []
            for _ in range(ROUNDS):
                sent += [_send(sender) for _ in range(PER_ROUND)]
                sender.kill()  # mid-delivery: no shutdown code runs
                sender = hospital.start()

            def settled() -> dict[str, dict[str, Any]] | None:
                tasks = _tasks(sender)
                done = all(tasks[h]["status"] == "completed" for h in sent)
                return tasks if done and tasks[silent]["status"] == "failed" else None

            tasks = _until(settled)
            assert tasks, {h: t["status"] for h, t in _tasks(sender).items()}
            assert _attempts(tasks[silent]) == 3  # the first send and two resends
            for header in sent:
                assert tasks[header]["businessStatus"]["text"] == "acknowledged"
            with httpx.Client(base_url=receiver.base, timeout=30) as c:
                for header in sent:
                    found = c.get("Communication", params={"identifier": header}).json()
                    assert len(found.get("entry", [])) == 1, header
            time.sleep(1.5)  # longer than the resend interval: a failed message stays failed
            assert _attempts(_tasks(sender)[silent]) == 3
