"""Settings layers (defaults < config file < etcd < environment) and the live reload of the safe
settings and the lending policy from an etcd watch, against a real etcd server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.entrypoints.http.app import create_app
from shelfmark.entrypoints.workers.background import Background
from shelfmark.seedwork.infrastructure.database import Engines
from tests.cluster.etcd import Etcd
from tests.e2e.conftest import Desk
from tests.support.auth import as_librarian
from tests.support.clock import MutableClock

DEADLINE_SECONDS = 10.0


async def eventually(check: Callable[[], Any], what: str) -> None:
    """Polls `check` until it is true, or fails after the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {DEADLINE_SECONDS} s: {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def prefix() -> str:
    return f"/shelfmark/test-{uuid.uuid4().hex[:8]}/"


def test_the_layers_defaults_file_etcd_environment(
    etcd: Etcd, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "shelfmark.toml"
    config.write_text("cache_ttl_seconds = 10\nrelay_batch_size = 50\nconsumer_prefetch = 8\n")
    etcd.put(f"{prefix}settings/cache_ttl_seconds", "20")
    etcd.put(f"{prefix}settings/relay_batch_size", "60")
    etcd.put(f"{prefix}settings/mail_max_attempts", "0")  # out of bounds: refused
    monkeypatch.setenv("SHELFMARK_CONFIG_FILE", str(config))
    monkeypatch.setenv("ETCD_ENDPOINTS", etcd.url)
    monkeypatch.setenv("SHELFMARK_ETCD_PREFIX", prefix)
    monkeypatch.setenv("SHELFMARK_RELAY_BATCH_SIZE", "70")

    with capture_logs() as logs:
        settings = Settings()

    assert settings.consumer_prefetch == 8  # the file over the default
    assert settings.cache_ttl_seconds == 20  # etcd over the file
    assert settings.relay_batch_size == 70  # the environment over etcd
    assert settings.mail_max_attempts == 8  # a bad etcd value leaves the layer below
    refused = [e for e in logs if e["event"].startswith("etcd value rejected")]
    assert [e["key"] for e in refused] == [f"{prefix}settings/mail_max_attempts"]


def test_an_unreachable_etcd_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETCD_ENDPOINTS", "http://127.0.0.1:9")
    with pytest.raises(ValueError, match="did not answer"):
        Settings()


@pytest.fixture
async def live_app(
    etcd: Etcd, prefix: str, sqlite_engines: Engines, clock: MutableClock, tmp_path: Path
) -> AsyncIterator[Shelfmark]:
    settings = Settings(var_dir=tmp_path, etcd_endpoints=[etcd.url], etcd_prefix=prefix)
    app = bootstrap(settings, clock=clock, engines=sqlite_engines)
    background = Background(app, [])  # only the etcd watch
    background.start()
    try:
        yield app
    finally:
        await background.stop()


@pytest.fixture
async def desk_api(live_app: Shelfmark) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(shelfmark=live_app))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://shelfmark.test", auth=as_librarian(live_app)
    ) as client:
        yield client


async def test_a_loan_period_changed_in_etcd_sets_the_next_loans_due_date(
    live_app: Shelfmark, desk_api: httpx.AsyncClient, etcd: Etcd, prefix: str
) -> None:
    desk = Desk(desk_api)
    await desk.patron("ada@example.org")

    async def borrow() -> str:
        book = await desk.book()
        loan = await desk_api.post(
            f"/books/{book['id']}/borrow", json={"borrower_email": "ada@example.org"}
        )
        assert loan.status_code == 201, loan.text
        return str(loan.json()["due_at"])

    assert await borrow() == "2026-03-16T23:59:59Z"  # the preset's 14 days from Monday 2 March

    etcd.put(f"{prefix}policy/categories.regular.loan_period_days", "7")
    await eventually(
        lambda: live_app.policy.categories["regular"].loan_period_days == 7, "the new period"
    )
    assert await borrow() == "2026-03-09T23:59:59Z"  # no restart: the next loan has 7 days
    shown = (await desk_api.get("/policy")).json()
    assert shown["categories"]["regular"]["loan_period_days"] == 7

    with capture_logs() as logs:
        etcd.put(f"{prefix}policy/categories.regular.loan_period_days", "0")
        await eventually(lambda: any("refused" in e["event"] for e in logs), "the refusal")
    (refusal,) = [e for e in logs if "refused" in e["event"]]
    assert refusal["log_level"] == "error"
    assert refusal["key"] == f"{prefix}policy/categories.regular.loan_period_days"
    assert "loan_period_days must be at least 1" in refusal["problem"]
    assert await borrow() == "2026-03-09T23:59:59Z"  # the last good value stays

    etcd.delete(f"{prefix}policy/categories.regular.loan_period_days")
    await eventually(
        lambda: live_app.policy.categories["regular"].loan_period_days == 14, "the preset again"
    )


async def test_live_settings_apply_bad_ones_are_refused_others_wait_for_a_restart(
    live_app: Shelfmark, etcd: Etcd, prefix: str
) -> None:
    settings = f"{prefix}settings/"
    with capture_logs() as logs:
        etcd.put(settings + "cache_ttl_seconds", "5")
        await eventually(lambda: live_app.settings.cache_ttl_seconds == 5, "the new TTL")
        etcd.put(settings + "cache_ttl_seconds", "-1")
        etcd.put(settings + "request_limit_per_client", "lots")
        etcd.put(settings + "login_limit_per_client", "7/minute")
        await eventually(
            lambda: live_app.rate_limits.per_client_login.amount == 7, "the new login limit"
        )
        etcd.put(settings + "relay_batch_size", "10")
        await eventually(lambda: any("next start" in e["event"] for e in logs), "the notice")

    refused = {e["key"].rsplit("/", 1)[1] for e in logs if "refused" in e["event"]}
    assert refused == {"cache_ttl_seconds", "request_limit_per_client"}
    assert live_app.settings.cache_ttl_seconds == 5  # the last good value
    assert live_app.settings.login_limit_per_client == "7/minute"
    assert live_app.settings.request_limit_per_client == "6000/minute"
    assert live_app.settings.relay_batch_size == 200  # read at start only


async def test_readiness_shows_etcd_and_the_settings_outlive_it(
    live_app: Shelfmark, desk_api: httpx.AsyncClient, etcd: Etcd, prefix: str
) -> None:
    etcd.put(f"{prefix}settings/cache_ttl_seconds", "7")
    await eventually(lambda: live_app.settings.cache_ttl_seconds == 7, "the new TTL")
    assert (await desk_api.get("/health/ready")).json()["checks"]["etcd"] == "ok"

    etcd.process.terminate()
    etcd.process.wait(10)
    await eventually(lambda: live_app.live is not None and live_app.live.state == "down", "down")
    ready = await desk_api.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["etcd"] == "degraded"
    assert live_app.settings.cache_ttl_seconds == 7


async def test_breaker_settings_changed_in_etcd_apply_to_every_breaker(
    live_app: Shelfmark, etcd: Etcd, prefix: str
) -> None:
    names = [snapshot.name for snapshot in live_app.breakers.snapshots()]
    breakers = [live_app.breakers.get(name) for name in names]
    assert breakers, "the app's pipeline has breakers (the mail adapter's at least)"
    with capture_logs() as logs:
        etcd.put(f"{prefix}settings/breaker_open_seconds", "7")
        etcd.put(f"{prefix}settings/breaker_failure_rate", "150")  # over 100: refused
        await eventually(lambda: any("refused" in e["event"] for e in logs), "the refusal")
        await eventually(
            lambda: all(b.config.open_seconds == 7 for b in breakers), "the new open time"
        )
    assert all(b.config.failure_rate_threshold == 50 for b in breakers)  # the last good value
