"""Request-scoped dependencies: the application."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from shelfmark.bootstrap import Shelfmark


async def _shelfmark(request: Request) -> Shelfmark:
    """`async`, though it awaits nothing: FastAPI runs a plain function dependency in its
    thread pool, a hop that cost more than the rest of a cached read."""
    return cast(Shelfmark, request.app.state.shelfmark)


App = Annotated[Shelfmark, Depends(_shelfmark)]
