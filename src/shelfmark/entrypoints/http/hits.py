"""Cache hits answered before the app, as Django's cache middleware does: the read cache's
bytes for a request target the app has already answered from the cache.

The app decides what is cacheable: `cached()` (cached.py) notes the key it answered under in
the request's scope, and after such an answer this layer remembers the target (path and raw
query string) with that key and its route. The next GET of the same target whose key the cache
still holds is answered from it here, skipping FastAPI's middleware, routing, dependency
resolution and the route. Nothing is decided here that the route did not decide first, so:

- a target is remembered only if its route is open to anyone (the cached patron record is
  not: its access rule needs the caller), and the route's answer never depends on who asks;
- validation, normalisation and the key itself are the route's: a target is only ever looked
  up under the key the route gave it;
- invalidation is the cache's: a deleted or expired entry is a miss here, and the request goes
  to the app, which loads it again.

It wraps the whole app (`ShelfmarkAPI` in app.py), so it does for a hit what the app's outer
layers do for any answer, with their own functions: the per-client rate limit, the security
headers, the request id, the access log line and the metrics under the route's template. What
a hit cannot settle alone goes to the app with nothing counted or sent: a refused hit (the app
answers 429; both limiters count no refusal, so it is counted once), a GET that declares a
body (the hardening's size limit), a request with an Origin header while CORS is on (its
headers), an entry this build cannot read (deleted first, so the route loads it again), and
any error (the app's layers report it). Nothing else applies to a hit: it waits on the cache
alone (in process, or in Redis with its own timeout), so it needs no deadline, and a cached
answer was read from the primary, so read-your-writes has nothing to add. The lane's own
cache read is not in the latency histogram when it misses: the app's request starts after it."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

import structlog
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from shelfmark.bootstrap import Shelfmark
from shelfmark.entrypoints.http.access import ACCESS, anyone
from shelfmark.entrypoints.http.cached import CACHE_KEY, MISSED_KEY, cached_answer
from shelfmark.entrypoints.http.hardening import allowed, client_of, security_headers
from shelfmark.entrypoints.http.metrics import observe
from shelfmark.entrypoints.http.request_id import HEADER, log_request, request_id_of

log = structlog.get_logger("shelfmark.hits")

MAX_TARGETS = 10_000
#: A longer query string is never remembered: a route ignores parameters it does not declare,
#: so padding would otherwise fill the memory of targets (10,000 x 1 kB at most).
MAX_QUERY_BYTES = 1024


class Known(NamedTuple):
    key: str
    route: APIRoute


class CacheHitsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        shelfmark: Callable[[], Shelfmark],
        *,
        cors: bool = False,
        max_targets: int = MAX_TARGETS,
    ) -> None:
        self.app = app
        self._shelfmark = shelfmark
        self._cors = cors
        self._max_targets = max_targets
        self._known: OrderedDict[tuple[str, bytes], Known] = OrderedDict()  # least recent first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or self._for_app(scope):
            await self.app(scope, receive, send)
            return
        target = (scope["path"], scope["query_string"])
        known = self._known.get(target)
        if known is not None and await self._answered(scope, send, target, known):
            return
        await self.app(scope, receive, send)
        self._remember(target, scope)

    async def _answered(
        self, scope: Scope, send: Send, target: tuple[str, bytes], known: Known
    ) -> bool:
        """Whether the cache's bytes answered the request (False: the app's turn, and nothing
        was counted or sent)."""
        started = time.perf_counter()
        shelfmark = self._shelfmark()
        try:
            value = await shelfmark.cache.get(known.key)
            if value is None:
                scope[MISSED_KEY] = known.key  # the route loads it without a second read
                return False
            try:
                status, headers, body = cached_answer(value, _if_none_match(scope))
            except ValueError:  # an entry this build cannot read: the route loads it again
                await shelfmark.cache.delete(known.key)
                return False
            limits = shelfmark.rate_limits
            if not await allowed(limits, limits.per_client, "client", client_of(scope)):
                return False
        except Exception:  # the app answers it, and its layers report what went wrong
            log.exception("cache hit not answered", path=scope["path"])
            return False
        self._note(target, known)  # the awaits may have let it be forgotten
        request_id = request_id_of(scope)
        headers += [*security_headers(scope), (HEADER, request_id.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        template = known.route.path
        shelfmark.metrics.cache_hits.labels(template).inc()
        observe(shelfmark, scope, template, status, started)
        log_request(scope, status, started, request_id=request_id)
        return True

    def _for_app(self, scope: Scope) -> bool:
        """A GET with a body (the hardening's size limit is the app's to apply), or one with
        an Origin header while CORS is on (CORS's headers are the app's to add)."""
        headers = dict(scope["headers"])
        has_body = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
        return has_body or (self._cors and b"origin" in headers)

    def _remember(self, target: tuple[str, bytes], scope: Scope) -> None:
        key, route = scope.get(CACHE_KEY), scope.get("route")
        if key is None or not isinstance(route, APIRoute) or len(target[1]) > MAX_QUERY_BYTES:
            return
        if ACCESS.get(("GET", route.path)) is not anyone:
            return
        self._note(target, Known(key, route))

    def _note(self, target: tuple[str, bytes], known: Known) -> None:
        self._known[target] = known
        self._known.move_to_end(target)
        if len(self._known) > self._max_targets:
            self._known.popitem(last=False)  # the least recently answered


def _if_none_match(scope: Scope) -> str | None:
    value: bytes
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            return value.decode("latin-1")
    return None
