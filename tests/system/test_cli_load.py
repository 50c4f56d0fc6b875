"""`fhir-server load`: ndjson, Bundle files and directories; failures named by file and line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from fhir_server.cli import main
from fhir_server.search.extract import index_resource
from fhir_server.store.sqlite.store import SqliteStore


def _ndjson(path: Path, lines: list[object]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(x) if not isinstance(x, bytes) else x for x in lines))
    return path


async def _ids(db: Path, type_: str) -> list[str]:
    from fhir_server.search.terms import SearchQuery

    store = SqliteStore(str(db), index_resource)
    await store.open()
    try:
        return [r.id for r in (await store.search(SearchQuery(type_, count=100))).items]
    finally:
        await store.close()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "fhir.db"
    monkeypatch.setenv("FHIR_STORE_URL", f"sqlite:///{path}")
    return path


def test_load_ndjson_reports_each_failure_with_file_and_line(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _ndjson(
        tmp_path / "patients.ndjson",
        [
            {"resourceType": "Patient", "id": "a"},
            b"{not json",
            {"resourceType": "Patient", "id": "b", "birthDate": "1990-13-45"},
            {"resourceType": "Spaceship", "id": "c"},
            {"resourceType": "Patient", "id": "d"},
        ],
    )
    assert main(["load", "--no-progress", str(src)]) == 1
    out, err = capsys.readouterr()
    assert "loaded 2, failed 3" in out
    assert f"{src}:2: invalid JSON" in err
    assert f"{src}:3: " in err and "Patient.birthDate" in err
    assert f"{src}:4: " in err and "Spaceship" in err
    assert asyncio.run(_ids(db, "Patient")) == ["a", "d"]


def test_load_directory_with_bundles(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    good = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {"resourceType": "Organization", "id": "org1", "name": "A"},
                "request": {"method": "PUT", "url": "Organization/org1"},
            },
        ],
    }
    bad = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Organization", "id": "org2", "name": "B"},
                "request": {"method": "PUT", "url": "Organization/org2"},
            },
            {
                "resource": {"resourceType": "Patient", "gender": 7},
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    }
    collection = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Practitioner", "id": "dr1"}}],
    }
    (folder / "a.json").write_bytes(orjson.dumps(good))
    (folder / "b.json").write_bytes(orjson.dumps(bad))
    (folder / "c.json").write_bytes(orjson.dumps(collection))
    (folder / "ignored.txt").write_text("not FHIR")
    assert main(["load", "--no-progress", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert "loaded 3, failed 1" in out
    assert f"{folder / 'b.json'}: Bundle.entry[1]" in err
    assert asyncio.run(_ids(db, "Organization")) == ["org1"]  # the failed transaction left nothing
    assert asyncio.run(_ids(db, "Practitioner")) == ["dr1"]
    assert len(asyncio.run(_ids(db, "Patient"))) == 1


def test_load_keeps_decimals_as_written_and_refuses_what_http_refuses(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The loader parses each line as the HTTP API parses a body (`fhir_json.parse_body`)."""
    src = _ndjson(
        tmp_path / "patients.ndjson",
        [
            b'{"resourceType":"Patient","id":"a","extension":[{"url":"http://x.org/w",'
            b'"valueDecimal":70.10},{"url":"http://x.org/h","valueDecimal":1.8e0}]}',
            b'{"resourceType":"Patient","id":"b","id":"c"}',
            b'{"resourceType":"Patient","id":"d","gender":"ma\\u0000le"}',
        ],
    )
    assert main(["load", "--no-progress", str(src)]) == 1
    out, err = capsys.readouterr()
    assert "loaded 1, failed 2" in out
    assert f"{src}:2: " in err and "'id' is given more than once" in err
    assert f"{src}:3: " in err and "Patient.gender" in err

    async def content() -> bytes:
        store = SqliteStore(str(db), index_resource)
        await store.open()
        try:
            stored = await store.read("Patient", "a")
            assert stored is not None and stored.content is not None
            return stored.content
        finally:
            await store.close()

    raw = asyncio.run(content())
    assert b'"valueDecimal":70.10}' in raw and b'"valueDecimal":1.8e0}' in raw


def test_load_checks_references_only_when_asked(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bulk load does not check referential integrity by default (its files reference each
    other in any order); ``--referential-integrity`` refuses what references nothing loaded."""
    plan = {
        "resourceType": "CarePlan",
        "id": "cp",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/later"},
    }
    src = _ndjson(tmp_path / "plans.ndjson", [plan])
    assert main(["load", "--no-progress", "--referential-integrity", str(src)]) == 1
    out, err = capsys.readouterr()
    assert "loaded 0, failed 1" in out
    assert "CarePlan.subject" in err and "Patient/later" in err
    assert main(["load", "--no-progress", str(src)]) == 0
    assert "loaded 1, failed 0" in capsys.readouterr().out
    assert asyncio.run(_ids(db, "CarePlan")) == ["cp"]
