"""The background work of a server with several API processes (`api_processes` > 1), run by
their supervisor: uvicorn's parent process, which otherwise only watches its children.

There it is a process of its own, which the operating system gives its share of the cores
whatever the API processes' load; in one of the API processes it had only what that process's
event loop left it, and fell behind under load (the relay's backlog grew through a 64-user
step of the mix). It runs on a thread with its own event loop, since uvicorn's supervisor
keeps the main thread. The supervisor takes the host lease before the API processes start;
they wait for it (`Background`), and one of them takes the work over should it fail here (a
supervisor that dies takes the API processes along: `served_app`)."""

from __future__ import annotations

import asyncio
import threading

import structlog

from shelfmark.bootstrap import bootstrap
from shelfmark.config import Settings
from shelfmark.entrypoints.workers.background import (
    LEASED,
    Background,
    embedded_lease,
    embedded_roles,
)
from shelfmark.seedwork.infrastructure.host_lease import HostLease

log = structlog.get_logger("shelfmark.workers")
STOP_SECONDS = 30.0


class SupervisorBackground:
    def __init__(self, settings: Settings, lease: HostLease) -> None:
        self._settings = settings
        self._lease = lease  # held already: taken before the API processes could
        self._thread = threading.Thread(target=self._run, name="background", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(STOP_SECONDS)

    def stop(self) -> None:
        if not self._thread.is_alive():  # it failed, and gave the lease away
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(STOP_SECONDS)

    def _run(self) -> None:
        """Should it fail (the database unreachable at start, say), the lease goes, and an API
        process takes the work over."""
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("background work failed; an API process takes it over")
        finally:
            self._lease.release()
            self._ready.set()

    async def _main(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        app = bootstrap(self._settings)
        try:
            roles = [role for role in embedded_roles(app) if role in LEASED]
            work = Background(app, roles)
            work.start()
            self._ready.set()
            try:
                await self._stopping.wait()
            finally:
                await work.stop()
        finally:
            await app.dispose()


def supervisor_background(settings: Settings) -> SupervisorBackground | None:
    """The background work, started, if this process could take the lease (another server on
    the same var_dir may hold it: then this one's API processes wait for it as well)."""
    lease = embedded_lease(settings)
    if lease is None:
        return None
    if not lease.try_acquire():
        log.warning("background work left to the holder of the lease", lease=str(lease.path))
        return None
    background = SupervisorBackground(settings, lease)
    background.start()
    return background
