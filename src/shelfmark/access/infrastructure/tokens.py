"""Short-lived signed JWTs (HS256): an access token for requests, a refresh token for more.

Expiry is checked against the injected clock, not the system clock."""

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
    ) -> None:
        self._key = key
        self._clock = clock
        self._ttl: dict[TokenKind, timedelta] = {"access": access_ttl, "refresh": refresh_ttl}

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
            if claims["typ"] != kind or self._clock.now() >= _instant(claims["exp"]):
                return None
            return Principal(
                uuid.UUID(claims["sub"]),
                str(claims.get("name", "")),
                Role(claims["role"]),
                uuid.UUID(claims["pid"]) if claims.get("pid") else None,
            )
        except (jwt.PyJWTError, ValueError, KeyError, TypeError):
            return None


def _instant(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)
