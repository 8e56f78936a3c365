"""The background work of one process, as asyncio tasks: which roles run is the caller's
choice (`shelfmark serve` in embedded mode runs them all; `shelfmark worker <role>` one).

With several API processes (`api_processes` > 1) the relay, the mail sender and the scheduler
run in one process at a time: the one holding the host lease (a lock file in `var_dir`), which
is their supervisor (supervisor.py); the API processes wait for it and one takes over if the
supervisor ends. Every API process follows the published events for its in-process cache
(`follow`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, Literal

import structlog

from shelfmark.bootstrap import Shelfmark
from shelfmark.config import Settings
from shelfmark.entrypoints.workers.consume import consume
from shelfmark.entrypoints.workers.follow import CacheFollower
from shelfmark.entrypoints.workers.mail import MailWorker
from shelfmark.entrypoints.workers.relay import RelayWorker
from shelfmark.entrypoints.workers.scheduler import DailyScheduler
from shelfmark.seedwork.infrastructure.host_lease import HostLease

Role = Literal["relay", "consume", "mail", "scheduler", "follow"]
#: Roles that one process of a host runs at a time when there is a lease.
LEASED: frozenset[Role] = frozenset({"relay", "consume", "mail", "scheduler"})
LEASE_RETRY_SECONDS = 1.0
log = structlog.get_logger("shelfmark.workers")


def _runner(app: Shelfmark, role: Role) -> Callable[[], Awaitable[None]]:
    return {
        "relay": RelayWorker(app).run,
        "consume": lambda: consume(app),
        "mail": MailWorker(app).run,
        "scheduler": DailyScheduler(app).run,
        "follow": CacheFollower(app).run,
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
    if app.settings.api_processes > 1 and app.settings.cache_url is None:
        roles.append("follow")
    return roles


def embedded_lease(settings: Settings) -> HostLease | None:
    """The lease of the background work of one `shelfmark serve` with several API processes
    (its supervisor holds it, the API processes stand by)."""
    if settings.api_processes == 1:
        return None
    return HostLease(Path(settings.var_dir) / "background.lock")


class Background:
    def __init__(
        self, app: Shelfmark, roles: Iterable[Role], *, lease: HostLease | None = None
    ) -> None:
        self._app = app
        self._roles = list(roles)
        self._lease = lease
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        leased = [r for r in self._roles if r in LEASED] if self._lease else []
        for role in self._roles:
            if role not in leased:
                self._start(self._supervised(role), f"worker-{role}")
        if leased:
            self._start(self._under_lease(leased), "worker-lease")
        if self._app.live is not None:  # every process follows the live settings in etcd
            self._start(self._app.live.run(), "etcd-watch")

    def _start(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    async def _under_lease(self, roles: list[Role]) -> None:
        """Waits until this process holds the lease, then runs the roles (until stopped)."""
        assert self._lease is not None
        while not self._lease.try_acquire():  # noqa: ASYNC110 (a lock file signals nothing)
            await asyncio.sleep(LEASE_RETRY_SECONDS)
        log.info("background work taken on", roles=roles, lease=str(self._lease.path))
        await asyncio.gather(*(self._supervised(role) for role in roles))

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
        if self._lease is not None:
            self._lease.release()

    async def run_forever(self) -> None:
        self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()
