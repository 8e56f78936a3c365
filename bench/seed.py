"""Times `shelfmark seed` for 100,000 books and 10,000 patrons on a fresh embedded SQLite file
and on a fresh PostgreSQL database, and writes the figures to bench/results/seed.md.

Run with `make bench-seed` (PostgreSQL at 127.0.0.1:5432, user postgres, as on every machine).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

BOOKS, PATRONS = 100_000, 10_000
RESULTS = Path(__file__).parent / "results" / "seed.md"
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc"]


def timed_seed(database_url: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "shelfmark",
            "seed",
            "--books",
            str(BOOKS),
            "--patrons",
            str(PATRONS),
        ],
        env=os.environ | {"DATABASE_URL": database_url},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        sqlite = timed_seed(f"sqlite:///{directory}/seed.db")
    database = f"seed_bench_{uuid.uuid4().hex[:8]}"
    subprocess.run([*PSQL, f"CREATE DATABASE {database}"], check=True)
    try:
        postgres = timed_seed(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}")
    finally:
        subprocess.run([*PSQL, f"DROP DATABASE {database} WITH (FORCE)"], check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    RESULTS.write_text(
        f"# Bulk seeding: {BOOKS:,} books (1-3 copies each) and {PATRONS:,} patrons\n\n"
        "Wall time of the whole command (start-up and migration included), fresh database.\n\n"
        "| backend | seconds |\n|---|---|\n"
        f"| SQLite (WAL) | {sqlite:.1f} |\n"
        f"| PostgreSQL 15 (asyncpg) | {postgres:.1f} |\n\n"
        f"- when: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}\n"
        f"- machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}\n"
        "- command: `make bench-seed` (bench/seed.py)\n"
    )
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
