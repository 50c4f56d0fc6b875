"""MedCom FHIR messaging (issue 13): the messages Danish hospitals, municipalities and GPs
exchange — CareCommunication, HospitalNotification, Acknowledgement — received and sent.

A sibling of `fhir_server` and `auth`: it uses the server (interactions' `Context`, the store's
unit of work, the access seam, the validator) and never `auth`; the server never imports it
except in its bootstrap (`fhir_server/app.py`, `cli.py`), which adds `OPERATIONS` to the
router (tests/unit/test_layers.py). docs/medcom.md describes the mapping field by field.
"""

from __future__ import annotations

from fhir_server.operations import Operation
from medcom.inbound import carecommunication, hospitalnotification  # noqa: F401 (registers)
from medcom.inbound.operation import PROCESS_MESSAGE
from medcom.outbound import OPERATIONS as OUTBOUND

OPERATIONS: tuple[Operation, ...] = (PROCESS_MESSAGE, *OUTBOUND)
"""The MedCom operations the bootstrap adds to the server's router."""
