"""`shelfmark serve` as a real process for the crash tests: its environment, a first librarian
made with the CLI, start-up awaited on /health, a logged-in HTTP client, and an end (terminate,
or SIGKILL when the test says so) that never leaves it running."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.private_postgres import free_port

STARTUP_SECONDS = 30
CLI_SECONDS = 60
#: Longest one request may take: a request that hangs fails the test instead of stalling it.
REQUEST_SECONDS = 10
USERNAME = "desk"
PASSWORD = "correct horse battery staple"


def serve_env(database_url: str, var_dir: Path, port: int | None = None) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": database_url,
        "SHELFMARK_PORT": str(port or free_port()),
        "SHELFMARK_VAR_DIR": str(var_dir),
        "SHELFMARK_LOG_LEVEL": "warning",
        "SHELFMARK_SCHEDULER_ENABLED": "false",
        "SHELFMARK_RELAY_POLL_SECONDS": "0.2",
    }


def create_librarian(env: dict[str, str]) -> None:
    """Migrates the database and adds the desk's account, as an operator does."""
    made = subprocess.run(
        [sys.executable, "-m", "shelfmark", "users", "create", USERNAME, "--password-stdin"],
        env=env,
        input=f"{PASSWORD}\n".encode(),
        capture_output=True,
        timeout=CLI_SECONDS,
        check=False,
    )
    assert made.returncode == 0, made.stderr.decode()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine loses the process."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def output(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-4000:]
        return ""


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[Server]:
    """`shelfmark serve` started with `env` (its output appended to `log`); stopped at the end."""
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "shelfmark", "serve"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{env['SHELFMARK_PORT']}", log)
    try:
        yield server
    finally:
        if server.alive():
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


async def until_up(server: Server) -> None:
    """Polls /health until it answers (the server migrates first); fails if it died."""
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(base_url=server.url, timeout=1) as probe:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await probe.get("/health")).status_code == 200:
                    return
            if not server.alive() or time.monotonic() > deadline:
                raise AssertionError(f"shelfmark serve did not come up:\n{server.output()}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def desk_client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client logged in as the librarian."""
    async with httpx.AsyncClient(base_url=server.url, timeout=REQUEST_SECONDS) as client:
        login = await client.post("/auth/token", data={"username": USERNAME, "password": PASSWORD})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield client
