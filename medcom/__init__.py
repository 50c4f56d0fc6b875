"""MedCom messaging (docs/medcom.md): CareCommunication, HospitalNotification and
Acknowledgement in and out. A sibling of `fhir_server` and `auth`: it uses the server's
interactions, store and access seam, never `auth`; the server meets it only in its bootstrap
(`fhir_server/app.py`, `cli.py`)."""
