"""Short verbs for the acceptance walk: what a librarian does at the desk, over HTTP."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
from sqlalchemy import select

from shelfmark.bootstrap import Shelfmark
from shelfmark.seedwork.infrastructure.outbox import outbox


class Circulation:
    def __init__(self, api: httpx.AsyncClient, shelfmark: Shelfmark) -> None:
        self.api = api
        self.shelfmark = shelfmark
        self._patrons = 0

    async def book(self, copies: int = 1, **fields: Any) -> dict[str, Any]:
        body = {"title": "Dune", "author": "Frank Herbert", "copies": copies} | fields
        response = await self.api.post("/books", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def patron(self, category: str = "regular") -> dict[str, Any]:
        self._patrons += 1
        body = {
            "first_name": "Reader",
            "last_name": f"No{self._patrons}",
            "email": f"reader{self._patrons}@example.org",
            "category": category,
        }
        response = await self.api.post("/patrons", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def borrow(self, book: dict[str, Any], patron: dict[str, Any]) -> httpx.Response:
        return await self.api.post(f"/books/{book['id']}/borrow", json={"patron_id": patron["id"]})

    async def lend(self, book: dict[str, Any], patron: dict[str, Any]) -> dict[str, Any]:
        response = await self.borrow(book, patron)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def give_back(self, loan: dict[str, Any], **body: Any) -> dict[str, Any]:
        response = await self.api.post(f"/loans/{loan['id']}/return", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def hold(
        self, book: dict[str, Any], patron: dict[str, Any], **body: Any
    ) -> httpx.Response:
        return await self.api.post(
            f"/books/{book['id']}/holds", json={"patron_id": patron["id"]} | body
        )

    async def queue(self, book: dict[str, Any], patron: dict[str, Any]) -> dict[str, Any]:
        response = await self.hold(book, patron)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def get(self, path: str) -> dict[str, Any]:
        response = await self.api.get(path)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def balance(self, patron: dict[str, Any]) -> str:
        return str((await self.get(f"/patrons/{patron['id']}/account"))["balance"])

    async def events(self) -> Counter[str]:
        async with self.shelfmark.engines.read.connect() as connection:
            rows = await connection.scalars(select(outbox.c.event_type))
            return Counter(rows)


def reasons(response: httpx.Response) -> list[str]:
    assert response.status_code == 409, response.text
    return [r["code"] for r in response.json()["reasons"]]
