"""One validator over the R4 base and the test profiles in fixtures/ (snapshots built here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiles.library import R4_DIR, Library
from profiles.validation import Validator
from tests.validation.snapshots import build_snapshot

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_library() -> Library:
    library = Library.load([R4_DIR])
    pending = []
    for path in sorted(FIXTURES.glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        if resource["resourceType"] == "StructureDefinition":
            pending.append(resource)
        else:
            library.add(resource, str(path))
    for sd in pending:
        library.add(build_snapshot(sd, library), sd["url"])
    return library


@pytest.fixture(scope="session")
def validator() -> Validator:
    return Validator(fixture_library())
