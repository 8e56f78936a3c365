"""Every route of the app x every kind of caller, with the outcome API.md's "who" column asks.

The routes come from the app itself, so a route added without an access rule (or without a
row here) fails this test. "Allowed" means the gate let the request through: whatever the
handler then answers (201, 409, 422...) is not a 401, a 403, or an ownership 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from shelfmark.access.application.handlers import Principal
from shelfmark.access.domain.model import Role
from shelfmark.bootstrap import Shelfmark
from shelfmark.entrypoints.http.access import ACCESS
from shelfmark.entrypoints.http.app import create_app
from tests.e2e.conftest import Desk
from tests.support.auth import FreshToken, Signer, as_librarian

# Who API.md lets in: anyone; staff; admin; "own" = staff or the patron the path names (loan,
# hold or patron id); "self" = staff or a patron acting for themself (patron_id in the body).
EXPECTED: dict[tuple[str, str], str] = {
    ("POST", "/auth/token"): "anyone",
    ("POST", "/auth/refresh"): "anyone",
    ("GET", "/health"): "anyone",
    ("GET", "/health/ready"): "anyone",
    ("GET", "/health/circuit-breakers"): "staff",
    ("GET", "/metrics"): "anyone",
    ("GET", "/policy"): "staff",
    ("GET", "/audit"): "admin",
    ("GET", "/books"): "anyone",
    ("POST", "/books"): "staff",
    ("GET", "/books/{book_id}"): "anyone",
    ("POST", "/books/{book_id}/copies"): "staff",
    ("POST", "/books/{book_id}/borrow"): "self",
    ("POST", "/books/{book_id}/return"): "staff",
    ("POST", "/books/{book_id}/holds"): "self",
    ("GET", "/patrons"): "staff",
    ("POST", "/patrons"): "staff",
    ("GET", "/patrons/{patron_id}"): "own",
    ("POST", "/patrons/{patron_id}/suspend"): "staff",
    ("POST", "/patrons/{patron_id}/reinstate"): "staff",
    ("POST", "/patrons/{patron_id}/upgrade"): "staff",
    ("POST", "/patrons/{patron_id}/renew-membership"): "staff",
    ("GET", "/patrons/{patron_id}/loans"): "own",
    ("GET", "/patrons/{patron_id}/holds"): "own",
    ("GET", "/patrons/{patron_id}/account"): "own",
    ("POST", "/patrons/{patron_id}/payments"): "staff",
    ("POST", "/patrons/{patron_id}/waivers"): "staff",
    ("POST", "/patrons/{patron_id}/payouts"): "staff",
    ("GET", "/loans"): "staff",
    ("POST", "/loans"): "staff",
    ("GET", "/loans/{loan_id}"): "own",
    ("POST", "/loans/{loan_id}/renew"): "own",
    ("POST", "/loans/{loan_id}/return"): "staff",
    ("GET", "/holds/{hold_id}"): "own",
    ("POST", "/holds/{hold_id}/cancel"): "own",
}
CALLERS = ("anonymous", "patron_a", "patron_b", "librarian", "admin")
ALLOWED = "allowed"


def expected_outcome(kind: str, caller: str) -> int | str:
    if kind == "anyone":
        return ALLOWED
    if caller == "anonymous":
        return 401
    if kind in ("own", "self"):
        return {"patron_a": ALLOWED, "patron_b": 404}.get(caller, ALLOWED)
    if kind == "admin" and caller != "admin":
        return 403
    return 403 if caller.startswith("patron") else ALLOWED


def app_routes(routes: Iterable[Any], prefix: str = "") -> set[tuple[str, str]]:
    """Every (method, path) of the app, looking inside included routers (newer FastAPI keeps
    an included router as a wrapper instead of copying its routes into the app)."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, APIRoute):
            found |= {(method, prefix + route.path) for method in route.methods}
        elif (router := getattr(route, "original_router", None)) is not None:
            inner = prefix + getattr(getattr(route, "include_context", None), "prefix", "")
            found |= app_routes(router.routes, inner)
    return found


def test_every_route_has_an_access_rule_and_an_expectation(shelfmark: Shelfmark) -> None:
    routes = app_routes(create_app(shelfmark=shelfmark).routes)
    assert routes - ACCESS.keys() == set(), "routes without an access rule"
    assert routes == EXPECTED.keys(), "routes without a row in this matrix"


@pytest.fixture
async def world(api: httpx.AsyncClient, desk: Desk) -> dict[str, Any]:
    book = await desk.book(copies=3)
    a, b = await desk.patron("a@example.org"), await desk.patron("b@example.org")
    loan = (await api.post(f"/books/{book['id']}/borrow", json={"patron_id": a["id"]})).json()
    other = await desk.book(title="Held")
    await api.post(f"/books/{other['id']}/borrow", json={"patron_id": b["id"]})
    hold = (await api.post(f"/books/{other['id']}/holds", json={"patron_id": a["id"]})).json()
    return {
        "book_id": book["id"],
        "patron_id": a["id"],
        "loan_id": loan["id"],
        "hold_id": hold["id"],
        "a": a,
        "b": b,
    }


def auth_for(caller: str, shelfmark: Signer, world: dict[str, Any]) -> httpx.Auth | None:
    import uuid

    if caller == "anonymous":
        return None
    if caller == "librarian":
        return as_librarian(shelfmark)
    if caller == "admin":
        return FreshToken(shelfmark, Principal(uuid.uuid4(), "chief", Role.ADMIN, None))
    patron = world["a" if caller == "patron_a" else "b"]
    return FreshToken(
        shelfmark, Principal(uuid.uuid4(), patron["email"], Role.PATRON, uuid.UUID(patron["id"]))
    )


@pytest.mark.parametrize("caller", CALLERS)
async def test_the_matrix(
    anonymous: httpx.AsyncClient, signer: Signer, world: dict[str, Any], caller: str
) -> None:
    outcomes: dict[tuple[str, str], int | str] = {}
    for method, path in sorted(EXPECTED):
        url = path.format(**world)
        body = {"patron_id": world["patron_id"]} if method == "POST" else None
        response = await anonymous.request(
            method,
            url,
            json=body,
            auth=auth_for(caller, signer, world) or httpx.USE_CLIENT_DEFAULT,
        )
        status = response.status_code
        kind = EXPECTED[(method, path)]
        ownership_404 = status == 404 and kind in ("own", "self")
        outcomes[(method, path)] = status if status in (401, 403) or ownership_404 else ALLOWED
    expected = {route: expected_outcome(kind, caller) for route, kind in EXPECTED.items()}
    assert outcomes == expected
