"""Who asks whom to do what: ServiceRequest (dk-core-person-servicerequest), Task (the receiver
accepts or not) and Communication (a MedCom CareCommunication, 'korrespondancemeddelelse')."""

from __future__ import annotations

from typing import Any

from dataset import build as b
from dataset import codes as c
from dataset.build import Json
from dataset.scenarios.scene import Scene

PRIORITY_TEXT = {"routine": "rutine", "asap": "hurtigst muligt"}


def service_request(
    scene: Scene,
    local: str,
    subject: Json,
    category: Json,
    what: str,
    requester: Json,
    performer: Json,
    priority: str,
    authored: str,
    status: str = "active",
    **extra: Any,
) -> Json:
    """A request; ``priority`` is routine or asap (dk-core binds it to those two)."""
    return scene.add(
        b.resource(
            "ServiceRequest",
            scene.id(local),
            (
                f"{what} ({PRIORITY_TEXT[priority]}, {status})",
                f"Fra {requester['display']} til {performer['display']}",
            ),
            status=status,
            intent="order",
            category=[b.concept(category.get("display", what), category)],
            priority=priority,
            code=b.concept(what),
            subject=subject,
            authoredOn=authored,
            requester=requester,
            performer=[performer],
            **extra,
        )
    )


TASK_STATUS_TEXT = {
    "requested": "afventer modtagerens accept",
    "accepted": "accepteret",
    "rejected": "afvist",
    "in-progress": "i gang",
    "completed": "udført",
}


def task(
    scene: Scene,
    local: str,
    subject: Json,
    focus: Json,
    description: str,
    requester: Json,
    owner: Json,
    status: str,
    authored: str,
    **extra: Any,
) -> Json:
    """A handed-over task; ``owner`` is the receiver, who must accept it."""
    return scene.add(
        b.resource(
            "Task",
            scene.id(local),
            (description, f"{owner['display']}: {TASK_STATUS_TEXT[status]}"),
            basedOn=[focus] if focus["reference"].startswith("ServiceRequest/") else None,
            status=status,
            intent="order",
            code=b.concept("Udfør anmodningen", b.coding(c.TASK_CODE, "fulfill")),
            description=description,
            focus=focus,
            for_=subject,
            authoredOn=authored,
            lastModified=authored,
            requester=requester,
            owner=owner,
            **extra,
        )
    )


def handed_over(scene: Scene, local: str, request: Json, description: str) -> Json:
    """The Task a request to another organization comes with, not accepted yet (without it the
    server writes one on the request's write: docs/handover.md)."""
    what = request["code"].get("text")
    return task(
        scene, local, request["subject"], b.ref("ServiceRequest", request["id"], what),
        description, request["requester"], request["performer"][0], "requested",
        request["authoredOn"],
    )  # fmt: skip


def communication(
    scene: Scene,
    local: str,
    subject: Json,
    category: Json,
    sender: Json,
    recipient: Json,
    message: str,
    sent: str,
    **extra: Any,
) -> Json:
    return scene.add(
        b.resource(
            "Communication",
            scene.id(local),
            (f"{category['text']}: fra {sender['display']} til {recipient['display']}", message),
            status="completed",
            category=[category],
            subject=subject,
            sent=sent,
            recipient=[recipient],
            sender=sender,
            payload=[{"contentString": message}],
            **extra,
        )
    )
