"""Liveness, readiness and the effective lending policy."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from shelfmark.entrypoints.http.deps import App

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
    """Each dependency ok/degraded/down; 503 only when the database is down."""
    database = await _database_state(app)
    body = Readiness(status="ok" if database == "ok" else "down", checks={"database": database})
    return JSONResponse(body.model_dump(), status_code=200 if database == "ok" else 503)


async def _database_state(app: App) -> Literal["ok", "down"]:
    async def ping() -> None:
        async with app.engines.read.connect() as connection:
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
