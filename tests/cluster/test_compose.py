"""compose.yaml describes the same topology as `make cluster-up`. `docker compose config`
validates it where the Compose plugin is installed; this machine has the docker client
without it, so the file is also checked as YAML here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
TOPOLOGY = {"postgres", "pgbouncer", "redis", "rabbitmq", "etcd", "migrate", "api", "nginx"}
WORKERS = {"relay": "relay", "consume": "consume", "scheduler": "scheduler"}


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def test_the_services_and_profiles() -> None:
    services = compose()["services"]
    assert TOPOLOGY | WORKERS.keys() | {"locust"} == set(services)
    for name, role in WORKERS.items():
        assert services[name]["command"] == ["shelfmark", "worker", role]
    assert services["locust"]["profiles"] == ["loadtest"]
    assert all("profiles" not in s for n, s in services.items() if n != "locust")
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown {needed}"


def test_the_api_goes_through_pgbouncer_and_etcd() -> None:
    api = compose()["services"]["api"]
    env = api["environment"]
    assert "@pgbouncer:" in env["DATABASE_URL"] and env["SHELFMARK_DB_PGBOUNCER"] == "true"
    assert env["ETCD_ENDPOINTS"] == "http://etcd:2379"
    assert env["SHELFMARK_EMBEDDED_WORKERS"] == "false"
    assert api["deploy"]["replicas"] == "${SHELFMARK_API_PROCESSES:-2}"


def test_every_image_is_pinned() -> None:
    for name, service in compose()["services"].items():
        image = service.get("image", "")
        if "build" not in service:
            assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm" in dockerfile
    assert "USER shelfmark" in dockerfile and dockerfile.count("FROM ") == 2


def test_docker_compose_config_accepts_it_where_compose_is_installed() -> None:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run([docker, "compose", "version"], capture_output=True).returncode
    ):
        return  # the check above is what this machine can do; see docs/deployment.md
    result = subprocess.run(
        [docker, "compose", "-f", str(ROOT / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={"SHELFMARK_JWT_SECRET": "x" * 40, "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    assert result.returncode == 0, result.stderr
