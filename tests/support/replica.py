"""A real streaming replica of the local PostgreSQL for tests (scripts/replica.sh): the one
`make replica-up` left running, or a session's own on a free port. Fixtures in tests/conftest.py."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from tests.support.databases import service_missing

REPOSITORY = Path(__file__).resolve().parents[2]
SCRIPT = REPOSITORY / "scripts" / "replica.sh"
REPLICA_PORT = int(os.environ.get("SHELFMARK_REPLICA_PORT", "5433"))
CATCH_UP_SECONDS = 15.0


def replica_sh(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), command],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **env},
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def session_replica() -> Iterator[int]:
    """A replica for the session: the one `make replica-up` started, left running, if there is
    one; else a replica of the session's own (port and directory), started and then stopped,
    so that two test sessions on one machine never stop or pause each other's."""
    if replica_sh("status").returncode == 0:
        yield REPLICA_PORT
        return
    port = free_port()
    # Under the system's temporary directory: the server runs as the postgres user, who may
    # not reach into the checkout (CI clones into a directory only its owner can enter).
    directory = tempfile.mkdtemp(prefix=f"shelfmark-replica-{port}-")
    env = {"SHELFMARK_REPLICA_PORT": str(port), "SHELFMARK_REPLICA_DIR": directory}
    try:
        started = replica_sh("start", **env)
    except (OSError, subprocess.TimeoutExpired) as error:
        service_missing("a streaming replica (scripts/replica.sh start)", error)
    lock = REPOSITORY / "var" / f".replica-{port}.lock"
    if started.returncode != 0:
        replica_sh("stop", **env)
        lock.unlink(missing_ok=True)
        reason = (started.stderr or started.stdout).strip()
        service_missing("a streaming replica (scripts/replica.sh start)", RuntimeError(reason))
    yield port
    stopped = replica_sh("stop", **env)
    lock.unlink(missing_ok=True)
    assert stopped.returncode == 0, stopped.stderr


async def database_on_replica(replica_port: int, postgres_url: str) -> str:
    """The session's database on the replica, once the replica has it."""
    url = make_url(postgres_url).set(port=replica_port)
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while True:
        try:
            connection = await connect(url.render_as_string(hide_password=False))
        except (OSError, asyncpg.PostgresError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            await connection.close()
            return url.render_as_string(hide_password=False)


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
