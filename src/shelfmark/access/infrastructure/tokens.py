"""Short-lived signed JWTs (HS256): an access token for requests, a refresh token for more.

Expiry is checked against the injected clock, not the system clock. A token once verified is
remembered (its kind, principal and expiry), so the next time it is presented, by the next
middleware of the same request or by the caller's next request, its signature is not checked
again: a token's bytes decide its claims, and the memory holds only tokens that were valid."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

from shelfmark.access.application.handlers import Principal
from shelfmark.access.domain.model import Role
from shelfmark.seedwork.clock import Clock

TokenKind = Literal["access", "refresh"]
ALGORITHM = "HS256"
#: Verified tokens kept (a few MB at most); past it the oldest is forgotten first.
REMEMBERED = 10_000


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


class TokenService:
    def __init__(
        self,
        key: str,
        clock: Clock,
        access_ttl: timedelta = timedelta(minutes=15),
        refresh_ttl: timedelta = timedelta(days=1),
        remembered: int = REMEMBERED,
    ) -> None:
        self._key = key
        self._clock = clock
        self._ttl: dict[TokenKind, timedelta] = {"access": access_ttl, "refresh": refresh_ttl}
        self._remembered = remembered
        self._verified: dict[str, _Verified] = {}

    def issue(self, principal: Principal) -> TokenPair:
        return TokenPair(
            self._token(principal, "access"),
            self._token(principal, "refresh"),
            int(self._ttl["access"].total_seconds()),
        )

    def _token(self, principal: Principal, kind: TokenKind) -> str:
        now = self._clock.now()
        claims: dict[str, Any] = {
            "sub": str(principal.account_id),
            "name": principal.username,
            "role": principal.role.value,
            "pid": str(principal.patron_id) if principal.patron_id else None,
            "typ": kind,
            "iat": now,
            "exp": now + self._ttl[kind],
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str, kind: TokenKind) -> Principal | None:
        """The principal of a valid, unexpired token of that kind; None for anything else."""
        verified = self._verified.get(token)
        remembered = verified is not None
        if verified is None:
            verified = self._decode(token)
            if verified is None:
                return None
        if self._clock.now() >= verified.expires_at:
            if remembered:
                del self._verified[token]
            return None
        if not remembered:  # only a token still good takes a place, the oldest's if need be
            if len(self._verified) >= self._remembered:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = verified
        return verified.principal if verified.kind == kind else None

    def _decode(self, token: str) -> _Verified | None:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={
                    "require": ["sub", "exp", "typ", "role"],
                    "verify_exp": False,  # checked below against the injected clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
            principal = Principal(
                uuid.UUID(claims["sub"]),
                str(claims.get("name", "")),
                Role(claims["role"]),
                uuid.UUID(claims["pid"]) if claims.get("pid") else None,
            )
            return _Verified(claims["typ"], principal, _instant(claims["exp"]))
        except (jwt.PyJWTError, ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class _Verified:
    kind: str
    principal: Principal
    expires_at: datetime


def _instant(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)
