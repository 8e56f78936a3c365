"""Where settings come from besides the environment: a TOML config file and etcd.

Layers, lowest first: the defaults, the config file (`SHELFMARK_CONFIG_FILE`), etcd
(`ETCD_ENDPOINTS`, keys `<prefix>settings/<name>`), the environment. etcd is read through its
v3 JSON gateway (`/v3/kv/range`, `/v3/watch`), so no gRPC client is needed. A value that does not
validate for its setting is logged and skipped: the layer below it applies.
"""

from __future__ import annotations

import base64
import json
import os
import tomllib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import structlog
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

log = structlog.get_logger("shelfmark.config")

SETTINGS_KEYS = "settings/"
POLICY_KEYS = "policy/"
ETCD_TIMEOUT_SECONDS = 3.0


class EtcdUnavailable(ValueError):
    """etcd is configured but did not answer: the process must not start on half a config."""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def prefix_range(prefix: str) -> dict[str, str]:
    """The gateway's request body for every key under `prefix`."""
    raw = prefix.encode()
    end = raw[:-1] + bytes([raw[-1] + 1])
    return {"key": b64(prefix), "range_end": base64.b64encode(end).decode()}


def read_prefix(endpoints: list[str], prefix: str) -> tuple[dict[str, str], int]:
    """Every key under `prefix` (relative to it) and the store's revision; tries each endpoint."""
    last: Exception | None = None
    for endpoint in endpoints:
        try:
            response = httpx.post(
                f"{endpoint.rstrip('/')}/v3/kv/range",
                json=prefix_range(prefix),
                timeout=ETCD_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
        except httpx.HTTPError as error:
            last = error
            continue
        return parse_range(response.json(), prefix)
    raise EtcdUnavailable(f"etcd at {', '.join(endpoints)} did not answer: {last!r}")


def parse_range(body: dict[str, Any], prefix: str) -> tuple[dict[str, str], int]:
    values = {
        unb64(kv["key"]).removeprefix(prefix): unb64(kv.get("value", ""))
        for kv in body.get("kvs", [])
    }
    return values, int(body["header"]["revision"])


def decoded(raw: str) -> Any:
    """An etcd value as JSON (`30`, `true`, `["a"]`), else the text itself."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@cache
def _adapter(field: FieldInfo) -> TypeAdapter[Any]:
    if not field.metadata:
        return TypeAdapter(field.annotation)  # type: ignore[arg-type]
    return TypeAdapter(Annotated[field.annotation, *field.metadata])  # type: ignore[arg-type]


def validate_setting(field: FieldInfo, raw: str) -> Any:
    """The value for one setting, checked against its type and bounds (ValidationError if not)."""
    return _adapter(field).validate_python(decoded(raw))


def setting_problem(error: ValidationError) -> str:
    return "; ".join(e["msg"] for e in error.errors())


class ConfigFileSource(PydanticBaseSettingsSource):
    """`SHELFMARK_CONFIG_FILE`: a TOML file whose top-level keys are setting names."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = os.environ.get("SHELFMARK_CONFIG_FILE")
        self.values: dict[str, Any] = {}
        if path:
            try:
                self.values = tomllib.loads(Path(path).read_text())
            except (OSError, tomllib.TOMLDecodeError) as error:
                raise ValueError(f"config file {path}: {error}") from None

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        known = self.settings_cls.model_fields
        return {name: value for name, value in self.values.items() if name in known}


class EtcdSource(PydanticBaseSettingsSource):
    """`<prefix>settings/<name>` keys; endpoints and prefix from the environment or the file."""

    def __init__(self, settings_cls: type[BaseSettings], file: ConfigFileSource) -> None:
        super().__init__(settings_cls)
        endpoints = os.environ.get("ETCD_ENDPOINTS") or os.environ.get(
            "SHELFMARK_ETCD_ENDPOINTS", ""
        )
        listed = [e.strip() for e in endpoints.split(",") if e.strip()]
        self.endpoints = listed or list(file.values.get("etcd_endpoints", []))
        self.prefix = os.environ.get("SHELFMARK_ETCD_PREFIX") or str(
            file.values.get("etcd_prefix", settings_cls.model_fields["etcd_prefix"].default)
        )

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if not self.endpoints:
            return {}
        values, _ = read_prefix(self.endpoints, self.prefix + SETTINGS_KEYS)
        fields = self.settings_cls.model_fields
        accepted: dict[str, Any] = {}
        for name, raw in values.items():
            if name not in fields:
                log.error("etcd key names no setting; ignored", key=self.prefix + name)
                continue
            try:
                accepted[name] = validate_setting(fields[name], raw)
            except ValidationError as error:
                log.error(
                    "etcd value rejected; the layer below applies",
                    key=f"{self.prefix}{SETTINGS_KEYS}{name}",
                    value=raw,
                    problem=setting_problem(error),
                )
        return accepted
