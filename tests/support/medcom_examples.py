"""Where MedCom's published example messages are.

The CC0-licensed ones (HospitalNotification, Acknowledgement, the retired CareCommunication
versions) and ``prerequisites.json`` are kept in the repository (``tests/medcom/examples``); the
current CareCommunication 5 examples carry no licence (copyright MedCom), so they are read from
the project's shared set beside the checkout (``../shared/medcom-examples``, or
``$FHIR_SHARED_DIR/medcom-examples``) and a test that needs one is skipped, saying so, where that
set is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KEPT = REPO / "tests" / "medcom" / "examples"


def shared_dir() -> Path | None:
    """The shared set of MedCom's examples beside the checkout, if it is there."""
    for base in (os.environ.get("FHIR_SHARED_DIR"), REPO.parent / "shared"):
        if base and (Path(base) / "medcom-examples").is_dir():
            return Path(base) / "medcom-examples"
    return None


def find(name: str) -> Path | None:
    """The example ``name``: the repository's copy, else the shared set's; None if neither."""
    for where in (KEPT, shared_dir()):
        if where is not None and (where / name).is_file():
            return where / name
    return None


def path(name: str) -> Path:
    """The example ``name``, or the test is skipped with the reason."""
    found = find(name)
    if found is None:
        pytest.skip(f"MedCom example {name} needs ../shared/medcom-examples (not present)")
    return found
