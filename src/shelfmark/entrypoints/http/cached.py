"""Hot reads answered from the read cache as ready bytes: a hit validates no model and queries
no database. A route gets here only after its access rule ran (the `authorize` dependency), so
a cached answer only ever reaches a caller allowed to see it; what is cached never depends on
who asks. Keys and what invalidates them: bootstrap/cache.py.

A fill always reads the primary database, never a lagging read replica: an entry is then never
older than the last commit before its load, so a writer whose commit deleted it (and whose
next GET may be a hit) sees its own change, whoever filled the entry again."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from shelfmark.bootstrap import Shelfmark
from shelfmark.entrypoints.http.responses import etag_of, json_body
from shelfmark.seedwork.infrastructure.cache import Loaded
from shelfmark.seedwork.infrastructure.replica import replica_reads

#: The scope entry naming the key a response was answered under (read by hits.py).
CACHE_KEY = "shelfmark.cache_key"
#: The scope entry naming the key hits.py has just found missing: the route loads it without
#: reading the cache for it a second time (one round trip less per miss with Redis).
MISSED_KEY = "shelfmark.missed_key"


@dataclass(frozen=True)
class Fresh:
    """What a route computed: the model, the headers that go with it, the cache tags."""

    model: BaseModel
    headers: Mapping[str, str] = field(default_factory=dict)
    tags: Iterable[str] = ()


async def cached(
    request: Request,
    app: Shelfmark,
    key: str,
    compute: Callable[[], Awaitable[Fresh]],
    *,
    etag: bool = False,
) -> Response:
    """The response under `key`, computed (once, however many ask at the same time) when the
    cache does not have it. With `etag`, a weak ETag of the body, and 304 for a matching
    If-None-Match. An error (404) is never cached."""

    async def load() -> Loaded:
        with replica_reads(False):
            fresh = await compute()
        body = json_body(fresh.model)
        headers = dict(fresh.headers)
        if etag:
            headers["ETag"] = etag_of(body)
        return Loaded(_pack(headers, body), frozenset(fresh.tags))

    missed = request.scope.get(MISSED_KEY) == key
    lookup = await app.cache.get_or_load(key, load, app.settings.cache_ttl_seconds, missed=missed)
    counter = app.metrics.cache_hits if lookup.hit else app.metrics.cache_misses
    counter.labels(_route(request)).inc()
    request.scope[CACHE_KEY] = key
    return cached_response(request, lookup.value)


class Answer(NamedTuple):
    """A response as ASGI sends it: the status, the raw headers, the body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def cached_response(request: Request, value: bytes) -> Response:
    """The response a cached value stands for (304 for a matching If-None-Match)."""
    status, headers, body = cached_answer(value, request.headers.get("if-none-match"))
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


def cached_answer(value: bytes, if_none_match: str | None) -> Answer:
    """The answer a cached value stands for, built without a Request or a Response (a cache
    hit's whole cost is a few of these steps): a JSON body with its headers, or 304 and only
    the ETag when If-None-Match names it."""
    headers, body = _unpack(value)
    etag = headers.get("ETag")
    if etag is not None and if_none_match == etag:
        return Answer(304, [(b"etag", etag.encode("latin-1"))], b"")
    raw = [(name.lower().encode("latin-1"), v.encode("latin-1")) for name, v in headers.items()]
    raw += [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    return Answer(200, raw, body)


def _pack(headers: dict[str, str], body: bytes) -> bytes:
    """One line of headers as JSON, then the body (JSON escapes every newline in it)."""
    return json.dumps(headers).encode() + b"\n" + body


def _unpack(value: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = value.partition(b"\n")
    return dict(json.loads(head)), body


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return route.path if isinstance(route, APIRoute) else "unmatched"  # never a raw path
