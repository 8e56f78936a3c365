"""Logging in, refreshing, throttling brute force, and the audit trail, over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from shelfmark.access.application.commands import CreateStaffUser, DisableUser
from shelfmark.access.infrastructure.hashing import Argon2PasswordHasher
from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.entrypoints.http.app import create_app
from shelfmark.seedwork.infrastructure.database import Engines
from tests.support.auth import admin
from tests.support.clock import MutableClock

PASSWORD = "correct horse battery staple"
WINDOW_SECONDS = 4


@pytest.fixture
def shelfmark(engines: Engines, clock: MutableClock, tmp_path: Path) -> Shelfmark:
    """Login throttling with a short window, so "after the window" comes within the test, and
    cheap hashing, so fifty attempts take well under that window even on a busy machine."""
    settings = Settings(
        var_dir=tmp_path,
        login_limit_per_account=f"10 per {WINDOW_SECONDS} seconds",
        login_limit_per_client="1000/minute",
    )
    app = bootstrap(settings, clock=clock, engines=engines)
    app.hasher = Argon2PasswordHasher(time_cost=1, memory_cost_kib=1024)
    return app


@pytest.fixture
async def http(shelfmark: Shelfmark) -> AsyncIterator[httpx.AsyncClient]:
    await shelfmark.execute(CreateStaffUser("alice", "librarian", PASSWORD))
    transport = httpx.ASGITransport(app=create_app(shelfmark=shelfmark), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelfmark.test") as client:
        yield client


async def login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/auth/token", data={"username": username, "password": password})


async def test_staff_log_in_and_use_the_token(http: httpx.AsyncClient) -> None:
    tokens = (await login(http, "Alice", PASSWORD)).json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (
        await http.post("/books", json={"title": "T", "author": "A"}, headers=headers)
    ).status_code == 201
    assert (await http.post("/books", json={"title": "T", "author": "A"})).status_code == 401
    refreshed = await http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    wrong_kind = await http.post("/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert wrong_kind.status_code == 401


async def test_a_token_expires_with_the_clock(http: httpx.AsyncClient, clock: MutableClock) -> None:
    token = (await login(http, "alice", PASSWORD)).json()["access_token"]
    clock.advance(minutes=16)
    response = await http.get("/loans", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_disabled_user_cannot_log_in_or_refresh(
    http: httpx.AsyncClient, shelfmark: Shelfmark
) -> None:
    refresh = (await login(http, "alice", PASSWORD)).json()["refresh_token"]
    await shelfmark.execute(DisableUser("alice"))
    assert (await login(http, "alice", PASSWORD)).status_code == 401
    assert (await http.post("/auth/refresh", json={"refresh_token": refresh})).status_code == 401


async def test_a_patron_logs_in_with_the_registration_email_and_sees_only_their_own(
    http: httpx.AsyncClient,
) -> None:
    staff = {
        "Authorization": f"Bearer {(await login(http, 'alice', PASSWORD)).json()['access_token']}"
    }
    ada = await http.post(
        "/patrons",
        json={
            "first_name": "Ada",
            "last_name": "L",
            "email": "Ada@example.org",
            "password": "s3cret-enough",
        },
        headers=staff,
    )
    bob = await http.post(
        "/patrons",
        json={"first_name": "Bob", "last_name": "M", "email": "bob@example.org"},
        headers=staff,
    )
    token = (await login(http, "ada@example.org", "s3cret-enough")).json()["access_token"]
    mine = {"Authorization": f"Bearer {token}"}
    assert (await http.get(f"/patrons/{ada.json()['id']}", headers=mine)).status_code == 200
    assert (await http.get(f"/patrons/{bob.json()['id']}", headers=mine)).status_code == 404
    assert (await http.get("/patrons", headers=mine)).status_code == 403


async def test_brute_force_is_throttled_and_the_right_password_works_after_the_window(
    http: httpx.AsyncClient,
) -> None:
    attempts = [await login(http, "alice", f"guess-{n}") for n in range(50)]
    statuses = Counter(r.status_code for r in attempts)
    assert statuses == {401: 10, 429: 40}, statuses
    assert all(int(r.headers["retry-after"]) >= 1 for r in attempts if r.status_code == 429)
    assert (await login(http, "alice", PASSWORD)).status_code == 429  # locked, even when right

    deadline = time.monotonic() + 5 * WINDOW_SECONDS  # bounded wait for the window to pass
    while (response := await login(http, "alice", PASSWORD)).status_code == 429:
        assert time.monotonic() < deadline, "the lock outlived its window"
        await asyncio.sleep(0.2)
    assert response.status_code == 200


async def test_staff_overrides_and_money_are_audited_for_admins(
    http: httpx.AsyncClient, shelfmark: Shelfmark
) -> None:
    staff = {
        "Authorization": f"Bearer {(await login(http, 'alice', PASSWORD)).json()['access_token']}"
    }
    patron = (
        await http.post(
            "/patrons",
            json={"first_name": "A", "last_name": "B", "email": "a@b.org"},
            headers=staff,
        )
    ).json()
    await http.post(
        f"/patrons/{patron['id']}/suspend", json={"reason": "lost books"}, headers=staff
    )
    assert (await http.get("/audit", headers=staff)).status_code == 403
    entries = (await http.get("/audit", headers=admin(shelfmark))).json()["items"]
    suspended = next(e for e in entries if e["action"] == "PatronSuspended")
    assert suspended["actor"] == "alice"
    assert suspended["details"]["reason"] == "lost books"
    assert {"AccountCreated", "PatronSuspended"} <= {e["action"] for e in entries}


async def test_security_headers_and_the_body_limit(http: httpx.AsyncClient) -> None:
    response = await http.get("/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "content-security-policy" not in (await http.get("/docs")).headers
    huge = await http.post(
        "/books", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    assert huge.headers["content-type"] == "application/problem+json"


async def test_cors_allows_only_the_configured_origins(
    engines: Engines, clock: MutableClock, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path, cors_origins=["https://desk.library.example"])
    app = create_app(shelfmark=bootstrap(settings, clock=clock, engines=engines))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelfmark.test") as client:
        preflight = {"Access-Control-Request-Method": "POST"}
        ours = await client.options(
            "/books", headers={"Origin": "https://desk.library.example"} | preflight
        )
        theirs = await client.options(
            "/books", headers={"Origin": "https://evil.example"} | preflight
        )
    assert ours.headers["access-control-allow-origin"] == "https://desk.library.example"
    assert "access-control-allow-origin" not in theirs.headers


async def test_a_stale_token_does_not_lock_anyone_out_of_open_routes(
    http: httpx.AsyncClient,
) -> None:
    tokens = (await login(http, "alice", PASSWORD)).json()
    stale = {"Authorization": "Bearer not-a-token"}
    assert (await http.get("/books", headers=stale)).status_code == 200
    refreshed = await http.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, headers=stale
    )
    assert refreshed.status_code == 200
    assert (await http.get("/loans", headers=stale)).json()["code"] == "UNAUTHENTICATED"


async def test_a_streamed_oversize_body_is_413(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 65_536

    response = await http.post(
        "/books", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "BODY_TOO_LARGE"


async def test_a_rate_limit_store_outage_is_not_an_api_outage(
    engines: Engines, clock: MutableClock, tmp_path: Path
) -> None:
    unreachable = "async+redis://127.0.0.1:9/0?socket_connect_timeout=0.2"
    settings = Settings(var_dir=tmp_path, rate_limit_storage=unreachable)
    app = create_app(shelfmark=bootstrap(settings, clock=clock, engines=engines))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelfmark.test") as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/books")).status_code == 200
