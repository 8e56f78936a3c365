"""Liveness, readiness and the effective lending policy."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from shelfmark.entrypoints.http.deps import App
from shelfmark.seedwork.infrastructure.reading import reading
from shelfmark.seedwork.infrastructure.replica import ReplicaEngine

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 2.0


class Liveness(BaseModel):
    status: Literal["ok"]


@router.get("/health", response_model=Liveness)
async def health() -> Liveness:
    return Liveness(status="ok")


class Readiness(BaseModel):
    status: Literal["ok", "degraded", "down"]
    checks: dict[str, Literal["ok", "degraded", "down"]]


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "The database is down"}},
)
async def ready(app: App) -> JSONResponse:
    """Each dependency ok/degraded/down; 503 only when the database is down. A dependency
    behind a circuit breaker is degraded while its breaker is not closed: the API still
    answers, and what needs it waits (events stay in the outbox, e-mail stays queued). The
    read cache is also degraded when it does not answer a ping (reads then go to the
    database), even before its breaker has seen enough failures to open; so is the read
    replica when it does not answer (reads then go to the primary)."""
    database = await _database_state(app)
    cache_answers = await app.cache.ping()
    checks: dict[str, Literal["ok", "degraded", "down"]] = {"database": database}
    for breaker in app.breakers.snapshots():
        checks[breaker.name] = "ok" if breaker.state == "closed" else "degraded"
    if not cache_answers:
        checks[app.cache.name] = "degraded"
    if app.live is not None:  # etcd down: the settings of the last contact stay
        checks["etcd"] = "ok" if app.live.state == "ok" else "degraded"
    if isinstance(app.engines.read, ReplicaEngine):
        checks["replica"] = "ok" if await app.engines.read.available() else "degraded"
    if database == "down":
        status: Literal["ok", "degraded", "down"] = "down"
    else:
        status = "ok" if all(v == "ok" for v in checks.values()) else "degraded"
    body = Readiness(status=status, checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if database == "ok" else 503)


class CircuitBreakerState(BaseModel):
    name: str
    state: Literal["closed", "open", "half_open"]
    calls: int
    failed_calls: int
    slow_calls: int
    failure_rate: float
    slow_call_rate: float
    not_permitted_calls: int
    seconds_since_last_change: float


@router.get("/health/circuit-breakers", response_model=list[CircuitBreakerState])
async def circuit_breakers(app: App) -> list[CircuitBreakerState]:
    """Every breaker of this process: its state, its window's failures, its last change."""
    now = time.monotonic()
    return [
        CircuitBreakerState(
            name=b.name,
            state=b.state,
            calls=b.calls,
            failed_calls=b.failed_calls,
            slow_calls=b.slow_calls,
            failure_rate=b.failure_rate,
            slow_call_rate=b.slow_call_rate,
            not_permitted_calls=b.not_permitted_calls,
            seconds_since_last_change=round(max(now - b.last_transition_at, 0.0), 3),
        )
        for b in app.breakers.snapshots()
    ]


async def _database_state(app: App) -> Literal["ok", "down"]:
    async def ping() -> None:
        async with reading(app.engines.read) as connection:
            await connection.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(ping(), CHECK_TIMEOUT_SECONDS)
    except Exception:  # any failure to answer means down
        return "down"
    return "ok"


@router.get("/policy")
async def policy(app: App) -> dict[str, Any]:
    """The effective lending policy: the preset with the policy file's overrides merged."""
    money_as_text = {Decimal: lambda amount: f"{amount:.2f}"}
    return dict(jsonable_encoder(dataclasses.asdict(app.policy), custom_encoder=money_as_text))
