"""`GET /metrics` for Prometheus, and the middleware that counts and times every request."""

from __future__ import annotations

import time
from typing import cast

from fastapi import APIRouter, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelfmark.bootstrap import Shelfmark
from shelfmark.entrypoints.http.deps import App

router = APIRouter(tags=["operations"])

UNMATCHED = "unmatched"


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(app: App) -> Response:
    return Response(app.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Labels by route template (`/books/{book_id}`), never the raw path, so the number of
    series stays bounded whatever clients send."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = route.path if isinstance(route, APIRoute) else UNMATCHED
            observe(cast(Shelfmark, scope["app"].state.shelfmark), scope, template, status, started)


def observe(shelfmark: Shelfmark, scope: Scope, template: str, status: int, started: float) -> None:
    """Counts and times one answered request (`started` from `time.perf_counter()`)."""
    method = scope["method"]
    shelfmark.metrics.requests.labels(method, template, str(status)).inc()
    shelfmark.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
