"""The background work of one process, as asyncio tasks: which roles run is the caller's
choice (`shelfmark serve` in embedded mode runs them all; `shelfmark worker <role>` one)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Literal

import structlog

from shelfmark.bootstrap import Shelfmark
from shelfmark.entrypoints.workers.consume import consume
from shelfmark.entrypoints.workers.mail import MailWorker
from shelfmark.entrypoints.workers.relay import RelayWorker
from shelfmark.entrypoints.workers.scheduler import DailyScheduler

Role = Literal["relay", "consume", "mail", "scheduler"]
log = structlog.get_logger("shelfmark.workers")


def _runner(app: Shelfmark, role: Role) -> Callable[[], Awaitable[None]]:
    return {
        "relay": RelayWorker(app).run,
        "consume": lambda: consume(app),
        "mail": MailWorker(app).run,
        "scheduler": DailyScheduler(app).run,
    }[role]


def embedded_roles(app: Shelfmark) -> list[Role]:
    """What `shelfmark serve` runs beside the API, by settings."""
    roles: list[Role] = []
    if app.settings.embedded_workers:
        roles += ["relay", "mail"]
        if app.settings.broker_url is not None:
            roles.append("consume")
    if app.settings.scheduler_enabled:
        roles.append("scheduler")
    return roles


class Background:
    def __init__(self, app: Shelfmark, roles: Iterable[Role]) -> None:
        self._app = app
        self._roles = list(roles)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for role in self._roles:
            task = asyncio.create_task(self._supervised(role), name=f"worker-{role}")
            self._tasks.append(task)
        if self._app.live is not None:  # every process follows the live settings in etcd
            self._tasks.append(asyncio.create_task(self._app.live.run(), name="etcd-watch"))

    async def _supervised(self, role: Role) -> None:
        """A role that crashes (its dependency refused it at start, say) is restarted."""
        while True:
            try:
                await _runner(self._app, role)()
            except Exception:
                log.exception("worker crashed; restarting", role=role)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def run_forever(self) -> None:
        self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()
