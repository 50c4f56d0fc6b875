"""The system tests load generic resources through the real CLI and server processes: they run
without the Danish profiles the server requires by default (tests/profiles covers those), and
with authorization off. They start real processes (seconds each, more on a loaded machine), so
their per-test timeout is longer than the suite's 60 s (pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
TIMEOUT = 300
"""Seconds; the slowest (twenty kills and restarts) takes ~25 s on an idle machine."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.timeout(TIMEOUT))


@pytest.fixture(autouse=True)
def _no_required_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_REQUIRED_PROFILES", "{}")
    monkeypatch.setenv("FHIR_AUTH", "off")  # plain FHIR traffic; tests/smart covers SMART
