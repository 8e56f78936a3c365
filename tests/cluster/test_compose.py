"""compose.yaml describes the same topology as `make cluster-up`, and `docker compose config`
accepts it. This machine kind has the docker client without an engine or the Compose plugin;
`deploy/compose-plugin.sh` (run by `.ci/run` and `make compose-plugin`) installs the plugin
under var/tools/docker, and `config` needs no engine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.databases import service_missing

ROOT = Path(__file__).parents[2]
PLUGIN = ROOT / "var" / "tools" / "docker" / "cli-plugins" / "docker-compose"
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


def docker_compose(
    *args: str, file: Path = ROOT / "compose.yaml"
) -> subprocess.CompletedProcess[str]:
    """`docker compose -f FILE ARGS...` with the plugin `deploy/compose-plugin.sh` installs."""
    docker = shutil.which("docker")
    if docker is None or not PLUGIN.exists():
        service_missing("the docker client with the Compose plugin", FileNotFoundError(PLUGIN))
    return subprocess.run(
        [str(docker), "compose", "-f", str(file), *args],
        capture_output=True,
        text=True,
        env={
            "DOCKER_CONFIG": str(PLUGIN.parents[1]),
            "SHELFMARK_JWT_SECRET": "x" * 40,
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        },
    )


def test_docker_compose_config_accepts_it_with_its_profiles() -> None:
    checked = docker_compose("config", "--quiet")
    assert checked.returncode == 0, checked.stderr
    default = docker_compose("config", "--services").stdout.split()
    loadtest = docker_compose("--profile", "loadtest", "config", "--services").stdout.split()
    assert set(default) == TOPOLOGY | WORKERS.keys()
    assert set(loadtest) == set(default) | {"locust"}


def test_docker_compose_config_refuses_what_the_specification_does_not_allow(
    tmp_path: Path,
) -> None:
    """The check can fail: an unknown key in a service is refused."""
    broken = compose()
    broken["services"]["api"]["replica"] = 2
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(broken))
    checked = docker_compose("config", "--quiet", file=tmp_path / "compose.yaml")
    assert checked.returncode != 0
    assert "replica" in checked.stderr
