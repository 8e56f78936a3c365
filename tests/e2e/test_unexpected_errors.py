"""A bug answers a plain 500 problem with the request id, never a stack trace."""

from __future__ import annotations

import httpx
import pytest

from shelfmark.bootstrap import Shelfmark
from shelfmark.entrypoints.http.access import ACCESS, anyone
from shelfmark.entrypoints.http.app import create_app


async def test_an_unexpected_error_is_a_500_problem_with_the_request_id(
    shelfmark: Shelfmark, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ACCESS, ("GET", "/broken"), anyone)
    app = create_app(shelfmark=shelfmark)

    async def broken() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/broken", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelfmark.test") as client:
        response = await client.get("/broken", headers={"X-Request-ID": "trace-me"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "trace-me"
    assert response.json()["code"] == "INTERNAL_ERROR"
    assert "secret" not in response.text
    assert "Traceback" not in response.text
