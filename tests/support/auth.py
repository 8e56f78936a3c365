"""Tokens for tests: minted by the app's own token service for a principal of our choosing
(the in-process `Shelfmark`, or against a running deployment anything holding a token service
made with its signing key: a `Signer`)."""

from __future__ import annotations

import uuid
from collections.abc import Generator
from dataclasses import dataclass
from typing import Protocol

import httpx

from shelfmark.access.application.handlers import Principal
from shelfmark.access.domain.model import Role
from shelfmark.access.infrastructure.tokens import TokenService

DESK_ACCOUNT = uuid.UUID("00000000-0000-4000-8000-00000000d35c")


class Signer(Protocol):
    """What mints tokens: a `Shelfmark`, or a `Deployment` (a running one's signing key)."""

    @property
    def tokens(self) -> TokenService: ...


@dataclass(frozen=True)
class Deployment:
    tokens: TokenService


def bearer(shelfmark: Signer, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {shelfmark.tokens.issue(principal).access_token}"}


def librarian(shelfmark: Signer) -> dict[str, str]:
    return bearer(shelfmark, Principal(DESK_ACCOUNT, "desk", Role.LIBRARIAN, None))


def admin(shelfmark: Signer) -> dict[str, str]:
    return bearer(shelfmark, Principal(uuid.uuid4(), "chief", Role.ADMIN, None))


class FreshToken(httpx.Auth):
    """Mints a new access token for every request, so tests that move the clock by weeks
    never send an expired one."""

    def __init__(self, shelfmark: Signer, principal: Principal) -> None:
        self.shelfmark = shelfmark
        self.principal = principal

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(bearer(self.shelfmark, self.principal))
        yield request


def as_librarian(shelfmark: Signer) -> FreshToken:
    return FreshToken(shelfmark, Principal(DESK_ACCOUNT, "desk", Role.LIBRARIAN, None))
