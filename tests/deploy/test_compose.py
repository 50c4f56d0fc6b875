"""docker-compose.yml and the Dockerfile as deployed (issue 15 item 11). No Docker engine runs
here: the files are read as compose and Docker read them and their promises checked — nothing
published beyond this machine, MongoDB with credentials and a writable-primary healthcheck, the
server healthchecked, restarted and unprivileged, and the README telling how to use them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _healthcheck(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test[1:]) if isinstance(test, list) else test


def test_mongodb_is_published_on_loopback_only_with_credentials() -> None:
    mongo = _compose()["services"]["mongo"]
    assert all(str(p).startswith("127.0.0.1:") for p in mongo.get("ports", [])), mongo["ports"]
    assert "--bind_ip_all" in " ".join(mongo["entrypoint"])  # reachable by the server's container
    env = mongo["environment"]
    assert env["MONGO_INITDB_ROOT_USERNAME"]
    assert env["MONGO_INITDB_ROOT_PASSWORD"].startswith("${FHIR_MONGO_PASSWORD:?")  # no default
    command = " ".join(mongo["entrypoint"])
    assert "--replSet rs0" in command and "--keyFile" in command  # auth on a replica set


def test_mongodb_is_healthy_only_as_a_writable_primary() -> None:
    mongo = _compose()["services"]["mongo"]
    check = _healthcheck(mongo)
    assert "quit(db.hello().isWritablePrimary ? 0 : 1)" in check  # mongosh's exit status
    assert "rs.initiate" in check and "$$MONGO_INITDB_ROOT_PASSWORD" in check
    assert mongo["restart"] == "unless-stopped"


def test_the_server_uses_the_replica_set_with_credentials_and_is_healthchecked() -> None:
    services = _compose()["services"]
    fhir = services["fhir"]
    url = fhir["environment"]["FHIR_STORE_URL"]
    assert url.startswith("mongodb://fhir:${FHIR_MONGO_PASSWORD}@mongo:27017/")
    assert "replicaSet=rs0" in url
    assert all(str(p).startswith("127.0.0.1:") for p in fhir["ports"])
    assert fhir["restart"] == "unless-stopped"
    assert "http://127.0.0.1:8080/health" in _healthcheck(fhir)
    assert fhir["healthcheck"]["start_period"]
    assert fhir["depends_on"]["mongo"]["condition"] == "service_healthy"


def test_the_image_runs_unbuffered_as_an_unprivileged_user() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    env = " ".join(line for line in lines if line.startswith("ENV "))
    assert "PYTHONUNBUFFERED=1" in env
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    for line in lines:  # everything copied exists (a missing directory fails the build)
        if line.startswith("COPY "):
            for source in shlex.split(line)[1:-1]:
                assert (ROOT / source).exists(), line


def test_the_readme_tells_how_to_run_the_demo_in_the_container_and_reach_it() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docker compose exec fhir fhir-server demo" in readme
    assert "docker compose exec -T fhir fhir-server token" in readme
    assert "directConnection=true" in readme
    assert re.search(r"http://127\.0\.0\.1:8080/(docs|fhir)", readme)
