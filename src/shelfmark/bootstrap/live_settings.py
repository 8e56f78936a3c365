"""Settings and lending-policy numbers that change without a restart, from an etcd watch.

Keys under the deployment's prefix (`SHELFMARK_ETCD_PREFIX`):

- `settings/<name>` for a name in `LIVE_SETTINGS` applies at once to this process; any other
  setting is read at start only (a change is logged and waits for the next start);
- `policy/<dotted.key>` (`policy/categories.regular.loan_period_days` = `7`) overrides that
  number of the lending policy (the preset and policy file's value), TOML syntax for the value.

A value that does not validate is refused with an error log line naming the key, and the last
good value stays. An environment variable beats etcd, also live. Deleting a key brings back
the value the process started with (a policy key: the preset and file's value).

A watch is one long HTTP stream, silent while nothing changes, so a connection that a network
fault left dead looks just like a quiet one. Every `PROBE_SECONDS` the process asks etcd
directly (a keys-only read of the prefix, bounded by `PROBE_TIMEOUT_SECONDS`); when that fails
the watch is dropped, readiness reports etcd `degraded`, and the keys are read again and
watched anew once etcd answers, which also applies whatever changed meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import tomllib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

import httpx
import structlog
from limits import parse
from pydantic import ValidationError

from shelfmark.bootstrap.events import breaker_config
from shelfmark.config import Settings
from shelfmark.lending.domain.policies import LendingPolicy
from shelfmark.lending.infrastructure.policy_source import PolicyFileError, merged, validated
from shelfmark.settings_sources import (
    POLICY_KEYS,
    SETTINGS_KEYS,
    EtcdUnavailable,
    prefix_range,
    read_prefix,
    setting_problem,
    unb64,
    validate_setting,
)

if TYPE_CHECKING:
    from shelfmark.bootstrap.container import Shelfmark

log = structlog.get_logger("shelfmark.config")

RATE_LIMITS = {
    "login_limit_per_account": "per_account_login",
    "login_limit_per_client": "per_client_login",
    "request_limit_per_client": "per_client",
}
#: The circuit breakers' settings: every breaker of the process is given the new ones.
BREAKER_SETTINGS = frozenset(
    {
        "breaker_window",
        "breaker_window_size",
        "breaker_minimum_calls",
        "breaker_failure_rate",
        "breaker_slow_call_seconds",
        "breaker_open_seconds",
    }
)
#: Safe to change while running: read where they are used, on every use.
LIVE_SETTINGS = frozenset({"cache_ttl_seconds", *RATE_LIMITS, *BREAKER_SETTINGS})
RETRY_SECONDS = 1.0
PROBE_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 2.0


def policy_value(raw: str) -> Any:
    """A TOML value (`7`, `"0.50"`, `2026-12-25`, `["sunday"]`), or else the bare text."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def nested(dotted: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in dotted.items():
        *tables, last = key.split(".")
        table = document
        for name in tables:
            table = table.setdefault(name, {})
        table[last] = value
    return document


def set_by_environment(name: str) -> bool:
    field = Settings.model_fields[name]
    names = {f"SHELFMARK_{name}"}
    if field.validation_alias is not None:
        names |= {str(a) for a in getattr(field.validation_alias, "choices", [])}
    present = {key.upper() for key in os.environ}
    return any(n.upper() in present for n in names)


class LiveSettings:
    """Keeps one process's live settings and lending policy in step with etcd."""

    def __init__(self, app: Shelfmark) -> None:
        self.app = app
        self.endpoints = app.settings.etcd_endpoints
        self.prefix = app.settings.etcd_prefix
        self.started_with = app.settings
        self.base_policy = app.policy
        self.policy_overrides: dict[str, Any] = {}
        self.state: Literal["ok", "down"] = "down"

    def load_now(self) -> None:
        """At start, before serving: the current keys, so the first request sees them."""
        values, _ = read_prefix(self.endpoints, self.prefix)
        self.state = "ok"
        for key, raw in values.items():
            self.apply(key, raw)

    async def run(self) -> None:
        """Reads every key, then watches from the next revision; again after any failure."""
        while True:
            try:
                async with httpx.AsyncClient(timeout=httpx.Timeout(5, read=None)) as client:
                    revision = await self._read_all(client)
                    await self._follow(client, revision + 1)
            except asyncio.CancelledError:
                raise
            except (httpx.HTTPError, EtcdUnavailable, ValueError, KeyError) as error:
                if self.state == "ok":
                    log.warning("etcd watch lost; keeping the current settings", error=repr(error))
                self.state = "down"
            except Exception:  # a bug must not end the watch for the process's lifetime
                log.exception("etcd watch failed; keeping the current settings")
                self.state = "down"
            await asyncio.sleep(RETRY_SECONDS)

    async def _read_all(self, client: httpx.AsyncClient) -> int:
        response = await client.post(
            f"{self._endpoint()}/v3/kv/range",
            json=prefix_range(self.prefix),
            timeout=PROBE_TIMEOUT_SECONDS,  # the client's own has no read timeout (the watch)
        )
        response.raise_for_status()
        body = response.json()
        known = self._current()
        seen: dict[str, str] = {}
        for kv in body.get("kvs", []):
            seen[unb64(kv["key"]).removeprefix(self.prefix)] = unb64(kv.get("value", ""))
        for key, raw in seen.items():
            self.apply(key, raw)
        for key in known.keys() - seen.keys():  # deleted while the watch was down
            self.apply(key, None)
        if self.state != "ok":
            log.info("etcd watch established", endpoint=self._endpoint(), prefix=self.prefix)
        self.state = "ok"
        return int(body["header"]["revision"])

    async def _follow(self, client: httpx.AsyncClient, start: int) -> None:
        """Applies the watch's changes until it ends or a probe finds etcd unreachable."""
        watch = asyncio.create_task(self._apply_watched(client, start))
        try:
            while True:
                done, _ = await asyncio.wait({watch}, timeout=PROBE_SECONDS)
                if done:
                    watch.result()  # the stream failed: its error
                    raise EtcdUnavailable("the watch stream ended")
                await self._probe(client)
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)

    async def _apply_watched(self, client: httpx.AsyncClient, start: int) -> None:
        async for key, raw in self._watch(client, start):
            self.apply(key, raw)

    async def _probe(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            f"{self._endpoint()}/v3/kv/range",
            json=prefix_range(self.prefix) | {"keys_only": True, "limit": 1},
            timeout=PROBE_TIMEOUT_SECONDS,
        )
        response.raise_for_status()

    async def _watch(
        self, client: httpx.AsyncClient, start: int
    ) -> AsyncIterator[tuple[str, str | None]]:
        request = {"create_request": prefix_range(self.prefix) | {"start_revision": start}}
        async with client.stream("POST", f"{self._endpoint()}/v3/watch", json=request) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                result = json.loads(line).get("result", {})
                for event in result.get("events", []):
                    kv = event["kv"]
                    key = unb64(kv["key"]).removeprefix(self.prefix)
                    deleted = event.get("type") == "DELETE"
                    yield key, None if deleted else unb64(kv.get("value", ""))

    def _endpoint(self) -> str:
        return self.endpoints[0].rstrip("/")

    def _current(self) -> dict[str, str]:
        """The keys applied so far (for noticing deletions after a reconnect)."""
        keys = {POLICY_KEYS + k: "" for k in self.policy_overrides}
        changed = self.app.settings.model_dump(include=set(LIVE_SETTINGS))
        for name, value in changed.items():
            if value != getattr(self.started_with, name):
                keys[SETTINGS_KEYS + name] = ""
        return keys

    def apply(self, key: str, raw: str | None) -> None:
        """One key's new value (None: deleted); a bad value is refused and logged."""
        if key.startswith(SETTINGS_KEYS):
            self._apply_setting(key.removeprefix(SETTINGS_KEYS), raw)
        elif key.startswith(POLICY_KEYS):
            self._apply_policy(key.removeprefix(POLICY_KEYS), raw)

    def _apply_setting(self, name: str, raw: str | None) -> None:
        full = self.prefix + SETTINGS_KEYS + name
        if name not in Settings.model_fields:
            log.error("etcd key names no setting; ignored", key=full)
            return
        if name not in LIVE_SETTINGS:
            log.info("etcd setting changed; it applies at the next start", key=full)
            return
        if set_by_environment(name):
            log.info("etcd setting ignored: an environment variable sets it", key=full)
            return
        try:
            value = (
                getattr(self.started_with, name)
                if raw is None
                else validate_setting(Settings.model_fields[name], raw)
            )
            if name in RATE_LIMITS:
                item = parse(value)
            if name in BREAKER_SETTINGS:
                breakers = breaker_config(self.app.settings.model_copy(update={name: value}))
        except (ValidationError, ValueError) as error:
            problem = setting_problem(error) if isinstance(error, ValidationError) else str(error)
            log.error(
                "etcd value refused; keeping the last good value",
                key=full,
                value=raw,
                problem=problem,
                kept=getattr(self.app.settings, name),
            )
            return
        self.app.settings = self.app.settings.model_copy(update={name: value})
        if name in RATE_LIMITS:
            changes: dict[str, Any] = {RATE_LIMITS[name]: item}
            self.app.rate_limits = dataclasses.replace(self.app.rate_limits, **changes)
        if name in BREAKER_SETTINGS:
            self.app.breakers.reconfigure(breakers)
        log.info("setting changed from etcd", key=full, value=value)

    def _apply_policy(self, dotted: str, raw: str | None) -> None:
        full = self.prefix + POLICY_KEYS + dotted
        overrides = dict(self.policy_overrides)
        if raw is None:
            overrides.pop(dotted, None)
        else:
            overrides[dotted] = policy_value(raw)
        try:
            policy = self._policy(overrides)
        except PolicyFileError as error:
            log.error(
                "etcd policy value refused; keeping the last good policy",
                key=full,
                value=raw,
                problem=str(error).removeprefix("invalid lending policy: "),
            )
            return
        self.policy_overrides = overrides
        self.app.policy = policy
        log.info("lending policy changed from etcd", key=full, value=raw)

    def _policy(self, overrides: dict[str, Any]) -> LendingPolicy:
        base = dataclasses.asdict(self.base_policy)
        return validated(merged(base, nested(overrides)))
