"""Outbound MedCom messages (docs/medcom.md, "Outbound"): CareCommunication rendered from the
shared record, HospitalNotification from an Encounter change, the ``$medcom-…`` operations that
build them and put them in the outbox (`medcom.outbox`), delivered by `medcom.delivery`."""

from __future__ import annotations

from medcom.outbound.operations import CARE_COMMUNICATION, HOSPITAL_NOTIFICATION

OPERATIONS = (CARE_COMMUNICATION, HOSPITAL_NOTIFICATION)
"""The operations the bootstrap adds to the server's router."""
