"""Access and refresh tokens: what verifies and what does not, and the memory of verified
tokens, which must never let through what checking the token again would refuse."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest

from shelfmark.access.application.handlers import Principal
from shelfmark.access.domain.model import Role
from shelfmark.access.infrastructure.tokens import TokenService
from tests.support.clock import MutableClock

KEY = "a-signing-key-for-tests-only-0123456789"
ALICE = Principal(uuid.uuid4(), "alice", Role.LIBRARIAN, None)


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


def service(clock: MutableClock, remembered: int = 10_000) -> TokenService:
    return TokenService(KEY, clock, access_ttl=timedelta(minutes=15), remembered=remembered)


def test_a_token_verifies_as_its_kind_only(clock: MutableClock) -> None:
    tokens = service(clock)
    pair = tokens.issue(ALICE)
    for _ in range(2):  # the second time from memory
        assert tokens.verify(pair.access_token, "access") == ALICE
        assert tokens.verify(pair.access_token, "refresh") is None
        assert tokens.verify(pair.refresh_token, "refresh") == ALICE
        assert tokens.verify(pair.refresh_token, "access") is None


def test_a_remembered_token_still_expires_with_the_clock(clock: MutableClock) -> None:
    tokens = service(clock)
    token = tokens.issue(ALICE).access_token
    assert tokens.verify(token, "access") == ALICE
    clock.advance(minutes=14, seconds=59)
    assert tokens.verify(token, "access") == ALICE
    clock.advance(seconds=1)
    assert tokens.verify(token, "access") is None
    assert tokens.verify(token, "access") is None


def test_a_forged_or_damaged_token_is_refused_though_the_genuine_one_is_remembered(
    clock: MutableClock,
) -> None:
    tokens = service(clock)
    token = tokens.issue(ALICE).access_token
    assert tokens.verify(token, "access") == ALICE
    claims = jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False})
    forged = jwt.encode(claims | {"role": "admin"}, "another-key-entirely-0123456789ab", "HS256")
    assert tokens.verify(forged, "access") is None
    assert tokens.verify(token[:-2], "access") is None
    assert tokens.verify("", "access") is None


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens PyJWT decodes from now on, in order."""
    seen: list[str] = []
    real_decode = jwt.decode

    def counted(*args: object, **kwargs: object) -> object:
        seen.append(str(args[0]))
        return real_decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counted)
    return seen


def test_a_token_is_checked_once_however_often_it_is_presented(
    clock: MutableClock, decoded: list[str]
) -> None:
    tokens = service(clock)
    token = tokens.issue(ALICE).access_token
    for _ in range(5):
        assert tokens.verify(token, "access") == ALICE
    assert decoded == [token]


def test_the_memory_of_tokens_is_bounded_and_forgets_the_oldest_first(
    clock: MutableClock, decoded: list[str]
) -> None:
    tokens = service(clock, remembered=3)
    issued = [tokens.issue(ALICE).access_token for _ in range(4)]
    for token in issued:
        assert tokens.verify(token, "access") == ALICE
    decoded.clear()
    for token in reversed(issued):
        assert tokens.verify(token, "access") == ALICE
    assert decoded == [issued[0]]  # the oldest was forgotten, and checked again
