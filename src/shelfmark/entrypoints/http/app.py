"""The FastAPI app factory. Nothing is built at import time: the lifespan bootstraps."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.bootstrap.logging import configure_logging
from shelfmark.config import Settings
from shelfmark.entrypoints import gc_tuning
from shelfmark.entrypoints.http import (
    audit,
    auth,
    catalog,
    health,
    holds,
    lending,
    metrics,
    patrons,
)
from shelfmark.entrypoints.http.access import authorize
from shelfmark.entrypoints.http.consistency import ReadYourWritesMiddleware
from shelfmark.entrypoints.http.errors import DeadlineMiddleware, install_error_handlers
from shelfmark.entrypoints.http.hardening import HardeningMiddleware
from shelfmark.entrypoints.http.hits import CacheHitsMiddleware
from shelfmark.entrypoints.http.idempotency import IdempotencyMiddleware
from shelfmark.entrypoints.http.metrics import MetricsMiddleware
from shelfmark.entrypoints.http.problems import PROBLEM_RESPONSES
from shelfmark.entrypoints.http.request_id import RequestIdMiddleware
from shelfmark.entrypoints.workers.background import Background, embedded_lease, embedded_roles


class ShelfmarkAPI(FastAPI):
    """FastAPI, with cache hits answered before its middleware stack (hits.py)."""

    cors = False  # whether CORSMiddleware is in the stack: a hit would miss its headers

    def build_middleware_stack(self) -> ASGIApp:
        return CacheHitsMiddleware(
            super().build_middleware_stack(),
            lambda: self.state.shelfmark,
            cors=self.cors,
        )


def create_app(settings: Settings | None = None, *, shelfmark: Shelfmark | None = None) -> FastAPI:
    """`shelfmark` lets a caller (a test, the CLI) own the application's lifetime."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        app = api.state.shelfmark = shelfmark or bootstrap(settings)
        background = Background(app, embedded_roles(app), lease=embedded_lease(app.settings))
        background.start()
        try:
            yield
        finally:
            await background.stop()
            if shelfmark is None:
                await app.dispose()

    api = ShelfmarkAPI(
        title="Shelfmark",
        summary="Library circulation: catalogue, patrons, loans, holds and fines.",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(authorize)],
        # Metrics are Prometheus's (metrics.py), logs structlog's: FastAPI's own OpenTelemetry
        # would only look for providers on every request (about 5% of a cache hit).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    if shelfmark is not None:
        api.state.shelfmark = shelfmark
    install_error_handlers(api)
    for module in (catalog, lending, patrons, holds, auth, health, metrics, audit):
        api.include_router(module.router, responses=PROBLEM_RESPONSES)
    # Outermost last: metrics, request id, CORS, hardening (rate limits, body size, security
    # headers), the deadline, read-your-writes, idempotency. Cache hits are answered before
    # all of them (ShelfmarkAPI).
    api.add_middleware(
        IdempotencyMiddleware,
        store=lambda: api.state.shelfmark.idempotency,
        clock=lambda: api.state.shelfmark.clock,
        tokens=lambda: api.state.shelfmark.tokens,
    )
    api.add_middleware(ReadYourWritesMiddleware, shelfmark=lambda: api.state.shelfmark)
    api.add_middleware(
        DeadlineMiddleware, budget=lambda: api.state.shelfmark.settings.request_timeout_seconds
    )
    api.add_middleware(
        HardeningMiddleware,
        limits=lambda: api.state.shelfmark.rate_limits,
        max_body=lambda: api.state.shelfmark.settings.max_body_bytes,
    )
    origins = (settings or (shelfmark.settings if shelfmark else Settings())).cors_origins
    if origins:
        api.cors = True
        api.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-Request-ID",
                "X-Shelfmark-LSN",
            ],
            expose_headers=["X-Request-ID", "X-Next-Cursor", "ETag", "Location", "X-Shelfmark-LSN"],
        )
    api.add_middleware(RequestIdMiddleware)
    api.add_middleware(MetricsMiddleware)
    return api


def served_app() -> FastAPI:
    """The app of one of `shelfmark serve`'s API processes when there are several (uvicorn
    builds it in each): the settings from the environment, as the parent process read them.
    The process stops as on a SIGTERM once its parent is gone (SIGKILLed, say), rather than
    serve on as an orphan that keeps the port from the next `shelfmark serve`."""
    threading.Thread(target=_stop_with_supervisor, name="supervisor-watch", daemon=True).start()
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    api = create_app(settings)
    gc_tuning.freeze_start_up()
    return api


def _stop_with_supervisor() -> None:
    """Waits for the process that started this one (multiprocessing's record of it, so a
    process started just before its supervisor died knows too), then stops this one."""
    supervisor = multiprocessing.parent_process()
    if supervisor is None:  # not started by uvicorn's supervisor
        return
    supervisor.join()
    os.kill(os.getpid(), signal.SIGTERM)
