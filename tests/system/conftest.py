"""The system tests load generic resources through the real CLI and server processes: they run
without the Danish profiles the server requires by default (tests/profiles covers those), and
with authorization off."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_required_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_REQUIRED_PROFILES", "{}")
    monkeypatch.setenv("FHIR_AUTH", "off")  # plain FHIR traffic; tests/smart covers SMART
