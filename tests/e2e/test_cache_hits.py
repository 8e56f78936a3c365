"""Cache hits answered before routing (entrypoints/http/hits.py): the answer the route gives,
never to a caller the route would refuse, and never after the entry went stale."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send
from structlog.testing import capture_logs

from shelfmark.access.application.handlers import Principal
from shelfmark.access.domain.model import Role
from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.entrypoints.http.app import create_app
from shelfmark.entrypoints.http.cached import CACHE_KEY
from shelfmark.entrypoints.http.hits import CacheHitsMiddleware
from shelfmark.seedwork.infrastructure.database import Engines
from tests.e2e.conftest import Desk
from tests.support.auth import bearer, librarian
from tests.support.clock import MutableClock


@pytest.fixture
async def client(shelfmark: Shelfmark) -> AsyncIterator[httpx.AsyncClient]:
    """One app for every caller, so each request meets the targets the others left; no
    credentials of its own."""
    transport = httpx.ASGITransport(app=create_app(shelfmark=shelfmark), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelfmark.test") as http:
        yield http


def answer(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
    return response.status_code, headers, response.content


async def test_a_hit_is_the_answer_the_route_gave(
    shelfmark: Shelfmark, client: httpx.AsyncClient, desk: Desk
) -> None:
    book = await desk.book()
    for target in (f"/books/{book['id']}", "/books?q=dune", "/books?limit=5"):
        filled, hit = await client.get(target), await client.get(target)
        assert filled.status_code == 200
        assert answer(hit) == answer(filled)
    etag = filled.headers.get("ETag") or (await client.get(f"/books/{book['id']}")).headers["ETag"]
    not_modified = await client.get(f"/books/{book['id']}", headers={"If-None-Match": etag})
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    requests = shelfmark.metrics.registry.get_sample_value(
        "shelfmark_http_requests_total",
        {"method": "GET", "route": "/books/{book_id}", "status": "200"},
    )
    assert requests == 3, "hits are counted under their route template"


async def test_a_hit_never_reaches_a_caller_the_route_refuses(
    shelfmark: Shelfmark, client: httpx.AsyncClient, desk: Desk
) -> None:
    """A patron's record is cached, but its rule needs the caller: it is never answered here."""
    patron = await desk.patron()
    target = f"/patrons/{patron['id']}"
    staff = librarian(shelfmark)
    assert (await client.get(target, headers=staff)).status_code == 200
    assert (await client.get(target, headers=staff)).status_code == 200  # a cache hit
    stranger = Principal(uuid.uuid4(), "bob", Role.PATRON, uuid.uuid4())
    assert (await client.get(target)).status_code == 401
    assert (await client.get(target, headers=bearer(shelfmark, stranger))).status_code == 404


async def test_a_hit_follows_the_change_that_invalidated_it(
    client: httpx.AsyncClient, desk: Desk, shelfmark: Shelfmark
) -> None:
    book, patron = await desk.book(), await desk.patron()
    target = f"/books/{book['id']}"
    assert (await client.get(target)).json()["copies_available"] == 1
    assert (await client.get(target)).json()["copies_available"] == 1
    borrowed = await client.post(
        f"{target}/borrow", json={"patron_id": patron["id"]}, headers=librarian(shelfmark)
    )
    assert borrowed.status_code == 201
    assert (await client.get(target)).json()["copies_available"] == 0


async def test_a_miss_found_here_is_loaded_by_the_route_without_a_second_read(
    client: httpx.AsyncClient, desk: Desk, shelfmark: Shelfmark, monkeypatch: pytest.MonkeyPatch
) -> None:
    book, patron = await desk.book(), await desk.patron()
    target = f"/books/{book['id']}"
    assert (await client.get(target)).status_code == 200  # the target is known from here on
    borrowed = await client.post(
        f"{target}/borrow", json={"patron_id": patron["id"]}, headers=librarian(shelfmark)
    )
    assert borrowed.status_code == 201  # and its entry is gone
    reads: list[str] = []
    read = shelfmark.cache.get

    async def counted(key: str) -> bytes | None:
        reads.append(key)
        return await read(key)

    monkeypatch.setattr(shelfmark.cache, "get", counted)
    assert (await client.get(target)).json()["copies_available"] == 0
    assert len(reads) == 1, "the layer read the key; the route loaded it without reading again"
    assert (await client.get(target)).json()["copies_available"] == 0
    assert len(reads) == 2, "and the next request is a hit"


async def test_a_hit_is_limited_labelled_and_logged_as_the_app_would(
    engines: Engines, clock: MutableClock, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path, request_limit_per_client="4/minute")
    shelfmark = bootstrap(settings, clock=clock, engines=engines)
    transport = httpx.ASGITransport(app=create_app(shelfmark=shelfmark), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelfmark.test") as http:
        filled = await http.get("/books?limit=5")
        with capture_logs() as logs:
            hit = await http.get("/books?limit=5", headers={"X-Request-ID": "desk-42"})
        fresh_id = (await http.get("/books?limit=5")).headers["x-request-id"]
        await http.get("/books?limit=5")
        refused = await http.get("/books?limit=5")
    hits = shelfmark.metrics.registry.get_sample_value(
        "shelfmark_cache_hits_total", {"route": "/books"}
    )
    assert hits == 3
    assert hit.headers["x-request-id"] == "desk-42"
    assert fresh_id not in ("desk-42", filled.headers["x-request-id"])
    assert [(e["request_id"], e["status"]) for e in logs if e["event"] == "request"] == [
        ("desk-42", 200)
    ]
    assert refused.status_code == 429, "a hit counts against the per-client limit"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["code"] == "RATE_LIMITED"


async def test_a_cross_origin_hit_keeps_its_cors_headers(
    engines: Engines, clock: MutableClock, tmp_path: Path
) -> None:
    desk_origin = "https://desk.library.example"
    settings = Settings(var_dir=tmp_path, cors_origins=[desk_origin])
    shelfmark = bootstrap(settings, clock=clock, engines=engines)
    transport = httpx.ASGITransport(app=create_app(shelfmark=shelfmark), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelfmark.test") as http:
        answers = [await http.get("/books", headers={"Origin": desk_origin}) for _ in range(2)]
    assert [a.headers["access-control-allow-origin"] for a in answers] == [desk_origin] * 2
    assert answers[0].content == answers[1].content


# --- the layer alone, over a route that counts its calls ---------------------------------


async def _never() -> None:
    raise AssertionError("only the route's template is used")


class CountingRoute:
    """Answers as `cached()` does, noting its key in the scope; counts the calls."""

    def __init__(self, path: str) -> None:
        self.calls = 0
        self.route = APIRoute(path, endpoint=_never)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        scope["route"], scope[CACHE_KEY] = self.route, f"key:{scope['path']}"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def get(
    layer: CacheHitsMiddleware,
    path: str,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> list[dict[str, Any]]:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query,
        "headers": headers or [],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    await layer(scope, receive, send)
    return sent


async def test_only_a_target_whose_key_the_cache_holds_skips_the_route(
    shelfmark: Shelfmark,
) -> None:
    route = CountingRoute("/books/{book_id}")
    layer = CacheHitsMiddleware(route, lambda: shelfmark, max_targets=2)
    await shelfmark.cache.set("key:/books/a", b'{"ETag": "W/\\"1\\""}\n{"id": "a"}', ttl=60)

    await get(layer, "/books/a")
    assert route.calls == 1, "a target is answered by the route until it is known"
    sent = await get(layer, "/books/a")
    assert route.calls == 1
    assert sent[-1]["body"] == b'{"id": "a"}'

    await shelfmark.cache.delete("key:/books/a")
    await get(layer, "/books/a")
    assert route.calls == 2, "an invalidated entry is the route's again"

    for path in ("/books/b", "/books/c"):  # two more targets: the least recent is forgotten
        await get(layer, path)
    await shelfmark.cache.set("key:/books/a", b"{}\n{}", ttl=60)
    await get(layer, "/books/a")
    assert route.calls == 5


async def test_the_targets_answered_most_recently_are_kept_and_padding_is_not(
    shelfmark: Shelfmark,
) -> None:
    route = CountingRoute("/books/{book_id}")
    layer = CacheHitsMiddleware(route, lambda: shelfmark, max_targets=2)
    for path in ("/books/a", "/books/b"):
        await shelfmark.cache.set(f"key:{path}", b"{}\n{}", ttl=60)
        await get(layer, path)
    await get(layer, "/books/a")  # a hit: now the most recent
    await get(layer, "/books/c")  # a third target: b goes, not a
    assert route.calls == 3
    await get(layer, "/books/a")
    assert route.calls == 3
    await get(layer, "/books/b")
    assert route.calls == 4

    padded = b"junk=" + b"x" * 2000  # a parameter the route ignores
    await shelfmark.cache.set("key:/books/d", b"{}\n{}", ttl=60)
    for _ in range(2):
        await get(layer, "/books/d", padded)
    assert route.calls == 6, "a long query string is never remembered"


async def test_a_route_not_open_to_anyone_is_never_remembered(shelfmark: Shelfmark) -> None:
    route = CountingRoute("/patrons/{patron_id}")
    layer = CacheHitsMiddleware(route, lambda: shelfmark)
    await shelfmark.cache.set("key:/patrons/p", b"{}\n{}", ttl=60)
    for _ in range(3):
        await get(layer, "/patrons/p")
    assert route.calls == 3


async def test_an_entry_the_layer_cannot_read_is_dropped_for_the_route_to_load(
    shelfmark: Shelfmark,
) -> None:
    route = CountingRoute("/books/{book_id}")
    layer = CacheHitsMiddleware(route, lambda: shelfmark)
    await shelfmark.cache.set("key:/books/a", b"{}\n{}", ttl=60)
    await get(layer, "/books/a")
    await shelfmark.cache.set("key:/books/a", b"not a header line\n{}", ttl=60)
    sent = await get(layer, "/books/a")
    assert route.calls == 2
    assert sent[0]["status"] == 200
    assert await shelfmark.cache.get("key:/books/a") is None


async def test_what_a_hit_cannot_settle_alone_goes_to_the_app(
    shelfmark: Shelfmark, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = CountingRoute("/books/{book_id}")
    layer = CacheHitsMiddleware(route, lambda: shelfmark)
    await shelfmark.cache.set("key:/books/a", b"{}\n{}", ttl=60)
    await get(layer, "/books/a")
    await get(layer, "/books/a", headers=[(b"content-length", b"0")])
    assert route.calls == 1, "a GET declaring no body is a hit"
    await get(layer, "/books/a", headers=[(b"content-length", b"9000000")])
    await get(layer, "/books/a", headers=[(b"transfer-encoding", b"chunked")])
    assert route.calls == 3, "a GET with a body meets the hardening's size limit in the app"

    async def broken(key: str) -> bytes | None:
        raise RuntimeError("a bug in a cache adapter")

    monkeypatch.setattr(shelfmark.cache, "get", broken)
    sent = await get(layer, "/books/a")
    assert (route.calls, sent[0]["status"]) == (4, 200)
