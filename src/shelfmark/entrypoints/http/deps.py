"""Request-scoped dependencies: the application."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from shelfmark.bootstrap import Shelfmark


def _shelfmark(request: Request) -> Shelfmark:
    return cast(Shelfmark, request.app.state.shelfmark)


App = Annotated[Shelfmark, Depends(_shelfmark)]
