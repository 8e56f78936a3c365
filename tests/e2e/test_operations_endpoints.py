"""What operators look at: Prometheus metrics, the circuit breakers, and readiness, which
reports a dependency behind an open breaker as degraded while the API keeps answering."""

from __future__ import annotations

import httpx
import pytest

from shelfmark.bootstrap import Shelfmark
from tests.e2e.conftest import Desk

MAIL_BREAKER = "mail.file"


async def open_the_mail_breaker(shelfmark: Shelfmark) -> None:
    """Fails enough calls through the app's own mail breaker for it to open."""
    assert MAIL_BREAKER in [s.name for s in shelfmark.breakers.snapshots()]
    breaker = shelfmark.breakers.get(MAIL_BREAKER)  # no config: the existing breaker as it is

    async def unreachable() -> None:
        raise OSError("connection refused")

    for _ in range(shelfmark.settings.breaker_minimum_calls):
        with pytest.raises(OSError, match="connection refused"):
            await breaker.call(unreachable)
    assert breaker.state == "open"


def samples(body: str, name: str, containing: str = "") -> list[str]:
    return [
        line for line in body.splitlines() if line.startswith(f"{name}{{") and containing in line
    ]


async def test_metrics_count_requests_by_route_template(
    anonymous: httpx.AsyncClient, api: httpx.AsyncClient, desk: Desk
) -> None:
    book = await desk.book()
    await api.get(f"/books/{book['id']}")
    await api.get(f"/books/{book['id']}")

    response = await anonymous.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    requests = samples(response.text, "shelfmark_http_requests_total")
    assert 'shelfmark_http_requests_total{method="POST",route="/books",status="201"} 1.0' in (
        requests
    )
    assert (
        'shelfmark_http_requests_total{method="GET",route="/books/{book_id}",status="200"} 2.0'
        in requests
    )
    assert book["id"] not in response.text, "a raw path must never become a label"


async def test_metrics_show_each_breakers_state(anonymous: httpx.AsyncClient) -> None:
    body = (await anonymous.get("/metrics")).text

    mail = f'breaker="{MAIL_BREAKER}"'
    assert sorted(samples(body, "shelfmark_circuit_breaker_state", mail)) == [
        f'shelfmark_circuit_breaker_state{{breaker="{MAIL_BREAKER}",state="closed"}} 1.0',
        f'shelfmark_circuit_breaker_state{{breaker="{MAIL_BREAKER}",state="half_open"}} 0.0',
        f'shelfmark_circuit_breaker_state{{breaker="{MAIL_BREAKER}",state="open"}} 0.0',
    ]


async def test_metrics_show_an_open_breaker(
    anonymous: httpx.AsyncClient, shelfmark: Shelfmark
) -> None:
    await open_the_mail_breaker(shelfmark)

    body = (await anonymous.get("/metrics")).text

    assert (
        f'shelfmark_circuit_breaker_state{{breaker="{MAIL_BREAKER}",state="open"}} 1.0'
        in samples(body, "shelfmark_circuit_breaker_state")
    )


async def test_staff_see_the_circuit_breakers(api: httpx.AsyncClient) -> None:
    response = await api.get("/health/circuit-breakers")

    assert response.status_code == 200
    breakers = {b["name"]: b for b in response.json()}
    assert MAIL_BREAKER in breakers
    assert breakers[MAIL_BREAKER]["state"] == "closed"
    assert breakers[MAIL_BREAKER]["failed_calls"] == 0
    assert breakers[MAIL_BREAKER]["not_permitted_calls"] == 0


async def test_the_circuit_breakers_are_not_for_anonymous_callers(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.get("/health/circuit-breakers")

    assert response.status_code == 401


async def test_an_open_breaker_is_listed_with_its_failures(
    api: httpx.AsyncClient, shelfmark: Shelfmark
) -> None:
    await open_the_mail_breaker(shelfmark)

    breakers = {b["name"]: b for b in (await api.get("/health/circuit-breakers")).json()}

    mail = breakers[MAIL_BREAKER]
    assert mail["state"] == "open"
    assert mail["failed_calls"] == shelfmark.settings.breaker_minimum_calls
    assert mail["failure_rate"] == 100.0


async def test_readiness_is_ok_when_every_dependency_is(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == body["checks"][MAIL_BREAKER] == "ok"
    assert set(body["checks"].values()) == {"ok"}


async def test_readiness_is_degraded_but_still_200_while_the_mail_breaker_is_open(
    anonymous: httpx.AsyncClient, shelfmark: Shelfmark
) -> None:
    await open_the_mail_breaker(shelfmark)

    response = await anonymous.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert (body["checks"]["database"], body["checks"][MAIL_BREAKER]) == ("ok", "degraded")
