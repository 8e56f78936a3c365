"""deploy/kubernetes/ is valid Kubernetes (the 1.31 API schemas, strict: an unknown field is an
error) and says what the code expects: settings it reads, worker roles it has, probe paths it
serves, a drain that fits in the grace period, and the image's user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shelfmark.config import Settings
from shelfmark.entrypoints.cli import worker
from shelfmark.entrypoints.http.app import create_app

ROOT = Path(__file__).parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
KUBERNETES = "1.31.0"
#: Read by uvicorn, not by Shelfmark's settings.
UVICORN_ENV = {"FORWARDED_ALLOW_IPS"}
#: The Secret's keys (deploy/kubernetes/README.md); DATABASE_DIRECT_URL is mapped to
#: DATABASE_URL where a pod must bypass PgBouncer.
SECRET_KEYS = {
    "DATABASE_URL",
    "DATABASE_DIRECT_URL",
    "SHELFMARK_JWT_SECRET",
    "SHELFMARK_BROKER_URL",
    "SHELFMARK_CACHE_URL",
    "SHELFMARK_RATE_LIMIT_STORAGE",
}


def documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield f"{path.name}: {document['kind']} {document['metadata']['name']}", document


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in documents() if d["kind"] == kind]


def setting_names() -> set[str]:
    """Every environment variable a Shelfmark setting is read from."""
    names = set()
    for field_name, field in Settings.model_fields.items():
        names.add(f"SHELFMARK_{field_name.upper()}")
        alias = field.validation_alias
        if alias is not None:
            names |= {str(choice) for choice in getattr(alias, "choices", [alias])}
    return names


def containers(kind: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(the object, one of its pod's containers) for every object of `kind`."""
    found = []
    for document in of_kind(kind):
        for container in document["spec"]["template"]["spec"]["containers"]:
            found.append((document, container))
    return found


@pytest.mark.parametrize(("name", "document"), list(documents()), ids=lambda v: str(v)[:60])
def test_every_manifest_is_valid_for_kubernetes(name: str, document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_the_validator_refuses_an_unknown_field() -> None:
    """The check can fail: a misspelt field is an error, not ignored."""
    deployment = of_kind("Deployment")[0]
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError, match="replica"):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def test_every_environment_variable_is_a_setting_shelfmark_reads() -> None:
    known = setting_names() | UVICORN_ENV
    (settings,) = of_kind("ConfigMap")
    assert set(settings["data"]) <= known, set(settings["data"]) - known
    for document, container in containers("Deployment") + containers("Job"):
        for variable in container.get("env", []):
            assert variable["name"] in known, (document["metadata"]["name"], variable["name"])
            secret = variable.get("valueFrom", {}).get("secretKeyRef")
            assert secret is None or secret["key"] in SECRET_KEYS
    assert SECRET_KEYS - {"DATABASE_DIRECT_URL"} <= known


def test_the_probes_reach_what_listens_on_the_pods_address() -> None:
    """The API listens on --host 0.0.0.0; the workers' metrics (their probes' port) listen on
    SHELFMARK_HOST, which the settings set to 0.0.0.0 (its default is loopback)."""
    (settings,) = of_kind("ConfigMap")
    assert settings["data"]["SHELFMARK_HOST"] == "0.0.0.0"
    assert Settings.model_fields["host"].default == "127.0.0.1"
    for document, container in containers("Deployment"):
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        kinds = ("startupProbe", "readinessProbe", "livenessProbe")
        probes = [container[p] for p in kinds if p in container]
        assert probes, document["metadata"]["name"]
        for probe in probes:
            port = (probe.get("tcpSocket") or probe["httpGet"])["port"]
            assert port in ports, (document["metadata"]["name"], port)
        if container["command"][:2] == ["shelfmark", "worker"]:
            metrics = int(settings["data"]["SHELFMARK_WORKER_METRICS_PORT"])
            assert ports == {"metrics": metrics}
        else:
            assert container["command"][2:4] == ["--host", "0.0.0.0"]


def test_the_workers_are_the_roles_the_cli_has() -> None:
    roles = {command.name for command in worker.registered_commands}
    run = {}
    for document, container in containers("Deployment"):
        command = container["command"]
        if command[:2] == ["shelfmark", "worker"]:
            run[command[2]] = document
    assert set(run) == {"relay", "consume", "scheduler"} and set(run) <= roles
    relay = {v["name"]: v for v in run["relay"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert relay["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "DATABASE_DIRECT_URL"


def test_the_api_probes_paths_it_serves_and_drains_within_its_grace_period() -> None:
    paths = set(create_app(Settings()).openapi()["paths"])
    ((api, container),) = [
        (d, c) for d, c in containers("Deployment") if c["command"][:2] == ["shelfmark", "serve"]
    ]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready" in paths
    assert container["livenessProbe"]["httpGet"]["path"] == "/health" in paths
    drain = float({v["name"]: v["value"] for v in container["env"]}["SHELFMARK_DRAIN_SECONDS"])
    pause = float(container["lifecycle"]["preStop"]["exec"]["command"][1])
    budget = Settings.model_fields["request_timeout_seconds"].default
    grace = api["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert pause + drain + budget <= grace
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (service,) = of_kind("Service")
    assert (
        service["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()
    )


def test_pods_run_as_the_images_user_with_nothing_writable_but_scratch() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--uid 10001" in dockerfile
    for document, container in containers("Deployment") + containers("Job"):
        pod = document["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        mounted = {m["mountPath"] for m in container["volumeMounts"]}
        assert Settings(var_dir=Path("/app/var")).var_dir.as_posix() in mounted
