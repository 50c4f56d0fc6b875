"""The newcomer docs stay true: every request of docs/recipes.md runs against the demo data with
SMART on, with the token `fhir-server token demo-writer` prints, and answers what the recipe
says; the backend-services script of docs/tutorial.md (examples/backend_token.py) gets a token
that reads; and no document names a file the repository does not hold."""

from __future__ import annotations

import contextlib
import io
import json
import re
import runpy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.cli import main
from fhir_server.config import Settings

BASE = "http://127.0.0.1:8080/fhir"
"""A loopback base, as `make serve`'s: OAuth over plain http is refused anywhere else."""
ROOT = Path(__file__).parents[2]
RECIPES = ROOT / "docs" / "recipes.md"
REFERRAL = "examples/referral.json"

EXPECTED: dict[str, tuple[int, set[str]]] = {
    "Patient?_id=demo-s2-child&_revinclude=CarePlan:subject&_include:iterate=CarePlan:care-team"
    "&_include:iterate=CarePlan:goal": (
        200,
        {
            "Patient/demo-s2-child",
            "CarePlan/demo-s2-careplan",
            "CareTeam/demo-s2-careteam",
            "Goal/demo-s2-goal-child",
            "Goal/demo-s2-goal-parents",
        },
    ),
    "ServiceRequest?performer=Organization/demo-aarhus-home-nursing&status=active"
    "&_include=ServiceRequest:subject&_include=ServiceRequest:requester": (
        200,
        {
            "ServiceRequest/demo-s4-home-nursing-request",
            "ServiceRequest/demo-s5-iv-request",
            "Patient/demo-s1-citizen",  # the referral's citizen (posted first)
            "Patient/demo-s4-citizen",
            "Patient/demo-s5-citizen",
        },
    ),
    "MedicationStatement?subject=Patient/demo-s4-citizen&status=active&_sort=-effective": (
        200,
        {
            "MedicationStatement/demo-s4-medication-1",
            "MedicationStatement/demo-s4-medication-2",
            "MedicationStatement/demo-s4-medication-5",
        },
    ),
    "CareTeam?participant=PractitionerRole/demo-aarhus-home-nursing-nurse-1-role&status=active"
    "&_include=CareTeam:subject": (
        200,
        {
            "CareTeam/demo-s4-careteam",
            "CareTeam/demo-s5-careteam",
            "CareTeam/demo-s7-careteam",
            "Patient/demo-s4-citizen",
            "Patient/demo-s5-citizen",
            "Patient/demo-s7-citizen",
        },
    ),
    "Patient?_has:CareTeam:subject:participant="
    "PractitionerRole/demo-aarhus-home-nursing-nurse-1-role": (
        200,
        {"Patient/demo-s4-citizen", "Patient/demo-s5-citizen", "Patient/demo-s7-citizen"},
    ),
}


def _requests() -> list[tuple[str, str, str | None]]:
    """(method, path below the base, ``-d @file``) of every curl line in the recipes."""
    found = []
    for line in RECIPES.read_text(encoding="utf-8").splitlines():
        if not line.startswith("curl "):
            continue
        url = re.search(r'"\$BASE/([^"]*)"', line)
        assert url, line
        method = re.search(r"-X (\w+)", line)
        body = re.search(r"-d @(\S+)", line)
        found.append(
            (method.group(1) if method else "GET", url.group(1), body.group(1) if body else None)
        )
    return found


def _cli(db: Path, *argv: str) -> str:
    """What ``fhir-server ARGV`` prints on stdout, for the database ``db`` and the test base."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FHIR_STORE_URL", f"sqlite:///{db}")
        mp.setenv("FHIR_BASE_URL", BASE)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(list(argv)) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A database after `fhir-server demo`, what the command printed, and the token
    `fhir-server token demo-writer` printed (recorded in the database, as the server records
    the tokens it issues)."""
    db = tmp_path_factory.mktemp("docs") / "demo.db"
    printed = _cli(db, "demo", "--no-progress")
    return db, printed, _cli(db, "token", "demo-writer").strip()


@pytest.fixture
async def client(demo: tuple[Path, str, str], tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """SMART on (the default), over a copy of the demo database, with the writer's token."""
    db = tmp_path / "fhir.db"
    db.write_bytes(demo[0].read_bytes())
    app = ServerApp(Settings(store_url=f"sqlite:///{db}", base_url=BASE))
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
            c.headers["Authorization"] = f"Bearer {demo[2]}"
            yield c
    finally:
        await app.shutdown()


def _ids(bundle: dict[str, Any]) -> set[str]:
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e["resource"]["resourceType"] != "OperationOutcome"
    }


async def test_every_recipe_answers_what_the_recipe_says(client: httpx.AsyncClient) -> None:
    requests = _requests()
    searches = {path for method, path, _ in requests if method == "GET"}
    assert searches == set(EXPECTED)  # a recipe changed: say here what it answers
    posted = None
    for method, path, body in requests:  # in the document's order: the referral first
        if method == "POST":
            assert body == REFERRAL
            resp = await client.post(
                path,
                content=(ROOT / body).read_bytes(),
                headers={"Content-Type": "application/fhir+json"},
            )
            assert resp.status_code == 201, resp.text
            posted = "ServiceRequest/" + resp.headers["Location"].split("/")[-3]
            continue
        resp = await client.get(path)
        assert resp.status_code == 200, (path, resp.text)
        expected = set(EXPECTED[path][1])
        if path.startswith("ServiceRequest?performer=") and posted:
            expected.add(posted)
        assert expected <= _ids(resp.json()), path
    assert posted is not None


async def test_the_tutorials_backend_script_gets_a_token_that_reads(
    demo: tuple[Path, str, str], client: httpx.AsyncClient
) -> None:
    lines = demo[1].splitlines()
    jwk = json.loads(lines[lines.index(next(x for x in lines if "demo-backend " in x)) + 1])
    script = runpy.run_path(str(ROOT / "examples" / "backend_token.py"))
    token_url = (await client.get(".well-known/smart-configuration")).json()["token_endpoint"]
    form = script["token_request"]("demo-backend", jwk, token_url, "system/*.rs")
    resp = await client.post(token_url, data=form, headers={"Authorization": ""})
    assert resp.status_code == 200, resp.text
    read = await client.get(
        "Patient/demo-s2-child",
        headers={"Authorization": f"Bearer {resp.json()['access_token']}"},
    )
    assert read.status_code == 200, read.text
    assert read.json()["id"] == "demo-s2-child"


def _docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("doc", _docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_doc_links_only_files_the_repository_holds(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (doc.parent / target).exists(), f"{doc.name} links {target}"
    for outside in ("DOMAIN.md", "ARCHITECTURE.md", "STYLE.md", "../shared", "ISSUE-"):
        assert outside not in text, f"{doc.name} names {outside}, not in the repository"
