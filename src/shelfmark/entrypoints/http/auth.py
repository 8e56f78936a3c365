"""Logging in: the OAuth2 password flow at /auth/token, and refreshing a token pair.

Brute force is throttled twice: failed attempts per account, and attempts per client address.
A locked account answers 429 even to the right password until its window has passed.
"""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from shelfmark.access.application.handlers import Principal
from shelfmark.entrypoints.http.deps import App
from shelfmark.entrypoints.http.hardening import allowed

router = APIRouter(prefix="/auth", tags=["auth"])


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int


class Refresh(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=4096)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _throttled(app: App, item: object, *key: str) -> HTTPException:
    stats = await app.rate_limits.limiter.get_window_stats(item, *key)  # type: ignore[arg-type]
    retry = max(1, math.ceil(stats.reset_time - time.time()))  # the limiter counts in real time
    return HTTPException(429, "too many attempts; try again later", {"Retry-After": str(retry)})


def _tokens(app: App, principal: Principal) -> Tokens:
    pair = app.tokens.issue(principal)
    return Tokens(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post("/token", response_model=Tokens)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, app: App
) -> Tokens:
    """Staff log in with their username, patrons with their e-mail."""
    limits = app.rate_limits
    username = form.username.strip().lower()
    if not await allowed(limits, limits.per_client_login, "login-client", _client(request)):
        raise await _throttled(app, limits.per_client_login, "login-client", _client(request))
    if not await allowed(limits, limits.per_account_login, "login-account", username, count=False):
        raise await _throttled(app, limits.per_account_login, "login-account", username)
    principal = await app.authenticate(username, form.password)
    if principal is None:
        await allowed(limits, limits.per_account_login, "login-account", username)
        raise HTTPException(401, "wrong username or password", {"WWW-Authenticate": "Bearer"})
    return _tokens(app, principal)


@router.post("/refresh", response_model=Tokens)
async def refresh(body: Refresh, app: App) -> Tokens:
    """A new pair for a valid refresh token of an account that is still enabled."""
    claimed = app.tokens.verify(body.refresh_token, "refresh")
    principal = await app.principal(claimed.account_id) if claimed else None
    if principal is None:
        raise HTTPException(401, "the refresh token is not valid", {"WWW-Authenticate": "Bearer"})
    return _tokens(app, principal)
