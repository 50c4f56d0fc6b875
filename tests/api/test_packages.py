"""FHIR packages (issue 13 item 6): ``fhir-server packages install FILE.tgz`` puts a package's
StructureDefinitions, ValueSets and CodeSystems into the store — searchable, and used by the
validator — all or nothing; ``packages list`` shows what is installed. The packages are built
here with tarfile."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.app import ServerApp
from fhir_server.cli import main
from fhir_server.config import Settings
from fhir_server.packages import PackageError, install, read_package
from tests.api.conftest import MakeClient
from tests.api.support import BASE, app_of, assert_outcome

BASE_URL = "http://example.org/fhir/pkg"
R4 = "http://hl7.org/fhir/StructureDefinition"
DK_PATIENT = "http://hl7.dk/fhir/core/StructureDefinition/dk-core-patient"


def sd(id_: str, base: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "id": id_,
        "url": f"{BASE_URL}/StructureDefinition/{id_}",
        "version": "1.0.0",
        "name": id_.replace("-", ""),
        "status": "active",
        "kind": "resource",
        "abstract": False,
        "type": "Patient",
        "baseDefinition": base,
        "derivation": "constraint",
        "differential": {"element": [{"path": e["id"].split(":")[0], **e} for e in elements]},
    }


CODES = {
    "resourceType": "CodeSystem",
    "id": "pkg-status",
    "url": f"{BASE_URL}/CodeSystem/pkg-status",
    "version": "1.0.0",
    "status": "active",
    "content": "complete",
    "concept": [{"code": "alpha", "display": "Alpha"}, {"code": "beta", "display": "Beta"}],
}
VALUE_SET = {
    "resourceType": "ValueSet",
    "id": "pkg-status",
    "url": f"{BASE_URL}/ValueSet/pkg-status",
    "version": "1.0.0",
    "status": "active",
    "compose": {"include": [{"system": CODES["url"]}]},
}
# the first builds on R4, the second on the first (a profile of a package profile)
FIRST = sd(
    "pkg-patient",
    f"{R4}/Patient",
    [
        {"id": "Patient.birthDate", "min": 1},
        {
            "id": "Patient.maritalStatus",
            "binding": {"strength": "required", "valueSet": VALUE_SET["url"]},
        },
    ],
)
SECOND = sd("pkg-named-patient", FIRST["url"], [{"id": "Patient.name", "min": 1}])


def package(path: Path, resources: list[dict[str, Any]], version: str = "1.0.0") -> Path:
    """A .tgz FHIR package: package/package.json, the resources, an example that is skipped."""
    files = {
        "package/package.json": {
            "name": "example.pkg",
            "version": version,
            "fhirVersions": ["4.0.1"],
        },
        **{f"package/{r['resourceType']}-{r['id']}.json": r for r in resources},
        "package/example/Patient-example.json": {"resourceType": "Patient", "id": "example"},
    }
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            data = json.dumps(content).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def claims(url: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "meta": {"profile": [url]}, **extra}


async def test_an_installed_package_is_searchable_and_validates(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = await make_client()
    app = app_of(client)
    found = read_package(package(tmp_path / "p.tgz", [SECOND, FIRST, VALUE_SET, CODES]))
    assert (found.tag, found.skipped, len(found.resources)) == ("example.pkg#1.0.0", 0, 4)
    report = await install(app.store, app.services, found)
    assert (report.failures, report.written) == ([], 4)
    for type_, url in (
        ("StructureDefinition", SECOND["url"]),
        ("ValueSet", VALUE_SET["url"]),
        ("CodeSystem", CODES["url"]),
    ):
        bundle = (await client.get(type_, params={"url": url})).json()
        assert [e["resource"]["url"] for e in bundle["entry"]] == [url]
        tags = bundle["entry"][0]["resource"]["meta"]["tag"]
        assert {"system": "urn:fhir-server:package", "code": "example.pkg#1.0.0"} in tags
    # the second profile: its own rule and the first's
    named, born = [{"family": "Hansen"}], "1980-01-01"
    assert (
        await client.post("Patient", json=claims(SECOND["url"], name=named, birthDate=born))
    ).status_code == 201
    assert_outcome(
        await client.post("Patient", json=claims(SECOND["url"], name=named)),
        422,
        "required",
        ["Patient.birthDate"],
    )
    # the first's required binding to the package's ValueSet (from its CodeSystem)
    status = {"coding": [{"system": CODES["url"], "code": "beta"}]}
    ok = claims(f"{FIRST['url']}|1.0.0", birthDate=born, maritalStatus=status)
    assert (await client.post("Patient", json=ok)).status_code == 201
    wrong = {"coding": [{"system": CODES["url"], "code": "gamma"}]}
    assert_outcome(
        await client.post("Patient", json={**ok, "maritalStatus": wrong}),
        422,
        "code-invalid",
        ["Patient.maritalStatus"],
    )
    # installed again: unchanged, nothing written
    again = await install(app.store, app.services, found)
    assert (again.failures, again.written, again.unchanged) == ([], 0, 4)


async def test_a_package_with_a_profile_that_cannot_be_used_writes_nothing(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = await make_client()
    app = app_of(client)
    broken = sd("pkg-broken", FIRST["url"], [{"id": "Patient.shoeSize", "min": 1}])
    found = read_package(package(tmp_path / "p.tgz", [FIRST, VALUE_SET, CODES, broken]))
    report = await install(app.store, app.services, found)
    assert report.written == 0
    assert len(report.failures) == 1
    assert "pkg-broken" in report.failures[0]
    assert "StructureDefinition.differential.element[0]" in report.failures[0]
    for type_ in ("StructureDefinition", "ValueSet", "CodeSystem"):
        assert (await client.get(type_)).json().get("entry", []) == []


@pytest.mark.parametrize(
    "content",
    [b"not a tarball", None],
    ids=["not-gzip", "no-manifest"],
)
def test_a_file_that_is_no_package_is_refused(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "p.tgz"
    if content is None:
        with tarfile.open(path, "w:gz") as archive:
            data = json.dumps(FIRST).encode()
            info = tarfile.TarInfo("package/StructureDefinition-x.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    else:
        path.write_bytes(content)
    with pytest.raises(PackageError):
        read_package(path)


def test_the_command_installs_and_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fhir.db"
    monkeypatch.setenv("FHIR_STORE_URL", f"sqlite:///{db}")
    broken = sd("pkg-broken", f"{R4}/Patient", [{"id": "Patient.shoeSize", "min": 1}])
    assert main(["packages", "install", str(package(tmp_path / "bad.tgz", [broken]))]) == 1
    assert "Patient.shoeSize" in capsys.readouterr().err
    assert main(["packages", "list"]) == 0
    assert "no packages installed" in capsys.readouterr().out
    path = package(tmp_path / "p.tgz", [FIRST, SECOND, VALUE_SET, CODES])
    assert main(["packages", "install", str(path)]) == 0
    assert "example.pkg#1.0.0: 4 written" in capsys.readouterr().out
    assert main(["packages", "list"]) == 0
    listed = capsys.readouterr().out.strip()
    assert listed == "example.pkg#1.0.0: 1 CodeSystem, 2 StructureDefinition, 1 ValueSet"

    async def served() -> None:
        """A server started on the store afterwards validates with the package."""
        settings = Settings(store_url=f"sqlite:///{db}", auth="off", required_profiles={})
        app = ServerApp(settings)
        await app.startup()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                assert_outcome(
                    await client.post("Patient", json=claims(SECOND["url"])),
                    422,
                    "required",
                )
        finally:
            await app.shutdown()

    asyncio.run(served())


async def test_unusable_profiles_can_be_left_out_and_bundled_canonicals_always_are(
    make_client: MakeClient, tmp_path: Path
) -> None:
    """A published package may hold profiles the validator cannot compile, and definitions the
    server bundles (a dk-core package): with ``skip_unusable`` the rest is installed; bundled
    canonicals are left out either way (the bundled one is used)."""
    client = await make_client()
    app = app_of(client)
    broken = sd("pkg-broken", f"{R4}/Patient", [{"id": "Patient.shoeSize", "min": 1}])
    dk = sd("dk-core-patient", f"{R4}/Patient", [{"id": "Patient.birthDate", "min": 1}])
    dk["url"], dk["version"] = DK_PATIENT, "3.7.0"
    found = read_package(package(tmp_path / "p.tgz", [FIRST, VALUE_SET, CODES, broken, dk]))
    report = await install(app.store, app.services, found, skip_unusable=True)
    assert (report.failures, report.written) == ([], 3)
    assert sorted(s.split(" ")[0] for s in report.skipped) == [
        "StructureDefinition/dk-core-patient",
        "StructureDefinition/pkg-broken",
    ]
    urls = [e["resource"]["url"] for e in (await client.get("StructureDefinition")).json()["entry"]]
    assert urls == [FIRST["url"]]
    # dk-core-patient is still the bundled one: no birthDate needed, the CPR rule applies
    cpr = {"use": "official", "system": "urn:oid:1.2.208.176.1.2", "value": "0101801234"}
    made = await client.post("Patient", json=claims(DK_PATIENT, identifier=[cpr]))
    assert made.status_code == 201, made.text
    assert_outcome(
        await client.post(
            "Patient", json=claims(DK_PATIENT, identifier=[{**cpr, "value": "3213801234"}])
        ),
        422,
        "invariant",
        ["Patient.identifier[0]"],
    )
