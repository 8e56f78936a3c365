"""Request-scoped dependencies: the application and who is calling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request

from shelfmark.bootstrap import Shelfmark


def _shelfmark(request: Request) -> Shelfmark:
    return cast(Shelfmark, request.app.state.shelfmark)


@dataclass(frozen=True)
class Caller:
    """Who is calling. Authentication (a later issue) replaces `_caller` with a token check;
    every router already takes the caller through this one dependency."""

    actor: str


def _caller() -> Caller:
    return Caller(actor="desk")


App = Annotated[Shelfmark, Depends(_shelfmark)]
CallerDep = Annotated[Caller, Depends(_caller)]
