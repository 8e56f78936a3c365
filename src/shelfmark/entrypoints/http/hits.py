"""Cache hits answered before routing, as Django's cache middleware does: the read cache's
bytes for a request target the app has already answered from the cache.

The app decides what is cacheable: `cached()` (cached.py) notes the key it answered under in
the request's scope, and after such an answer this layer remembers the target (path and raw
query string) with that key and its route. The next GET of the same target whose key the cache
still holds is answered from it here, skipping routing, dependency resolution and the route.
Nothing is decided here that the route did not decide first, so:

- a target is remembered only if its route is open to anyone (the cached patron record is
  not: its access rule needs the caller), and the route's answer never depends on who asks;
- validation, normalisation and the key itself are the route's: a target is only ever looked
  up under the key the route gave it;
- invalidation is the cache's: a deleted or expired entry is a miss here, and the request goes
  to the route, which loads it again.

It sits inside the metrics, the request id and the hardening (rate limits, security headers),
so a hit is counted, limited and labelled (by route template) like any other request; and
outside the deadline, whose task a hit does not need (it waits on the cache alone, in process
or in Redis with its own timeout), and read-your-writes (a cached answer was read from the
primary)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from shelfmark.bootstrap import Shelfmark
from shelfmark.entrypoints.http.access import ACCESS, anyone
from shelfmark.entrypoints.http.cached import CACHE_KEY, cached_response

MAX_TARGETS = 10_000
#: A longer query string is never remembered: a route ignores parameters it does not declare,
#: so padding would otherwise fill the memory of targets (10,000 x 1 kB at most).
MAX_QUERY_BYTES = 1024


class Known(NamedTuple):
    key: str
    route: APIRoute


class CacheHitsMiddleware:
    def __init__(
        self, app: ASGIApp, shelfmark: Callable[[], Shelfmark], max_targets: int = MAX_TARGETS
    ) -> None:
        self.app = app
        self._shelfmark = shelfmark
        self._max_targets = max_targets
        self._known: OrderedDict[tuple[str, bytes], Known] = OrderedDict()  # least recent first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        target = (scope["path"], scope["query_string"])
        known = self._known.get(target)
        if known is not None:
            shelfmark = self._shelfmark()
            value = await shelfmark.cache.get(known.key)
            if value is not None:
                self._note(target, known)  # the cache's await may have let it be forgotten
                scope["route"] = known.route  # the metrics label it by template
                shelfmark.metrics.cache_hits.labels(known.route.path).inc()
                await cached_response(Request(scope), value)(scope, receive, send)
                return
        await self.app(scope, receive, send)
        self._remember(target, scope)

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
