"""The seeded, bounded fuzzing run of the suite: both fuzzers against the real app on a real SQLite
file (the API fuzzer also on the MongoDB store's stand-in), with the demo data set loaded and the
bundled profiles installed, as a deployment has them.

Seeded (hypothesis ``derandomize``): every run sends the same requests, so a failure here is a
regression, reproducible by running this file. Sized to take well under a minute on two cores;
`make fuzz` runs the same fuzzers for minutes with random seeds (bench/fuzz.py).

Each broken invariant fails the test with a reproducer, except the defects that ISSUE-10 gives to
other items until they land (tests/fuzz/known.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.fuzzers import api_fuzz, fuzz_settings, schema_fuzz
from tests.fuzz.harness import Harness, LiveServer
from tests.fuzz.known import owner
from tests.support.backends import BACKENDS

pytestmark = pytest.mark.timeout(300)  # each runs ~10 s of fuzzing on an idle machine

API_EXAMPLES = {"sqlite": 350, "mongo-standin": 150, "mongodb": 150}
SCHEMA_EXAMPLES = 100


@pytest.mark.parametrize("backend", BACKENDS)
def test_api_fuzzer_finds_no_broken_invariant(tmp_path: Path, backend: str) -> None:
    with LiveServer(tmp_path, backend) as server:
        harness = Harness(server, known=owner)
        api_fuzz(harness, fuzz_settings(API_EXAMPLES[backend], seeded=True))
    assert harness.figures.requests >= API_EXAMPLES[backend]
    assert harness.figures.statuses.keys() & {200, 201}  # some requests did get through


def test_schemathesis_finds_no_broken_invariant(tmp_path: Path) -> None:
    with LiveServer(tmp_path) as server:
        harness = Harness(server, known=owner)
        schema_fuzz(harness, fuzz_settings(SCHEMA_EXAMPLES, seeded=True))
    assert harness.figures.requests >= SCHEMA_EXAMPLES
