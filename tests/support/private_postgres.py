"""A PostgreSQL cluster of the test's own, on a free port, that the test may stop as a crash
would (`pg_ctl stop -m immediate`) and start again, without touching the machine's shared server.

It lives under the system's temporary directory and, when the tests run as root, belongs to and
runs as the postgres OS user (PostgreSQL refuses to run as root, and that user may not be able to
enter the checkout), as `scripts/replica.sh` does. With CI=true a cluster that cannot be made
fails the test instead of skipping it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.databases import service_missing

OS_USER = os.environ.get("SHELFMARK_TEST_PG_OS_USER", "postgres")
START_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_binaries() -> Path:
    """SHELFMARK_TEST_PG_BIN, else the newest /usr/lib/postgresql/<major>/bin, else pg_config's."""
    if configured := os.environ.get("SHELFMARK_TEST_PG_BIN"):
        return Path(configured)
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1]
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        raise FileNotFoundError("no PostgreSQL binaries: set SHELFMARK_TEST_PG_BIN")
    found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
    return Path(found.stdout.strip())


@dataclass(frozen=True)
class PrivateCluster:
    binaries: Path
    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c logging_collector=off -c max_connections=50"
        )
        self._pg_ctl("start", "-w", "-t", str(START_SECONDS), "-l", "server.log", "-o", options)

    def crash(self) -> None:
        """Stops it as a crash would: every server process quits at once, without a checkpoint;
        the next start recovers from the write-ahead log."""
        self._pg_ctl("stop", "-m", "immediate", "-w")

    def running(self) -> bool:
        status = self._run([str(self.binaries / "pg_ctl"), "status", "-D", str(self.data)])
        return status.returncode == 0

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.data / "server.log").read_text().splitlines()[-lines:])
        return ""

    def _pg_ctl(self, *arguments: str) -> None:
        done = self._run([str(self.binaries / "pg_ctl"), *arguments, "-D", str(self.data)])
        if done.returncode != 0:
            raise RuntimeError(
                f"pg_ctl {arguments[0]} failed: {done.stderr or done.stdout}\n{self.log_tail()}"
            )

    def _run(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        if os.geteuid() == 0:
            command = ["runuser", "-u", OS_USER, "--", *command]
        # The server must not hold our pipes open: pg_ctl -l sends its output to the log.
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=START_SECONDS + 30,
            check=False,
            cwd=self.data.parent,
        )


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A fresh cluster, started; stopped and deleted afterwards whatever happened."""
    base = Path(tempfile.mkdtemp(prefix="shelfmark-crash-pg-"))
    try:
        cluster = PrivateCluster(postgres_binaries(), base / "data", free_port())
        if os.geteuid() == 0:
            shutil.chown(base, OS_USER)
        made = cluster._run(
            [
                str(cluster.binaries / "initdb"),
                "-D",
                str(cluster.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stderr or made.stdout}")
        cluster.start()
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        shutil.rmtree(base, ignore_errors=True)
        service_missing("a private PostgreSQL cluster (initdb + pg_ctl)", error)
        raise  # service_missing fails or skips; this keeps the type checker informed
    try:
        yield cluster
    finally:
        try:
            if cluster.running():
                cluster.crash()  # the data is thrown away: no need to wait for a checkpoint
        finally:
            shutil.rmtree(base, ignore_errors=True)
