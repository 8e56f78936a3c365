"""PgBouncer, the API processes' way to the database, stopped for a few seconds: every read that
needs the database is answered by the API itself through nginx, 503 problem+json with
Retry-After, and never by nginx's own 502 ("no live upstreams"), which an API's 503 would cause
if nginx took it for a failed process. Once PgBouncer is started again the reads answer as
before, without restarting anything else.

Run by `make test-cluster` against its cluster (not collected by a plain `pytest`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter

import httpx

from tests.cluster.drill_sigkill import exited
from tests.cluster.load import cluster_env, wait_ready

OUTAGE_SECONDS = 4.0


def pgbouncer_pid() -> int:
    with open(os.path.join(cluster_env("SHELFMARK_CLUSTER_RUN_DIR"), "pgbouncer.pid")) as file:
        return int(file.read())


async def test_a_database_outage_is_answered_503_by_the_api_not_502_by_nginx() -> None:
    url = cluster_env("SHELFMARK_E2E_URL")
    answers: Counter[str] = Counter()
    victim = pgbouncer_pid()
    os.kill(victim, signal.SIGINT)  # PgBouncer's immediate shutdown
    try:
        while not exited(victim):  # noqa: ASYNC110 - no event to wait on: /proc is polled
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            ends = time.monotonic() + OUTAGE_SECONDS
            while time.monotonic() < ends:
                # An unknown book: no cache holds it, so the API must ask the database.
                response = await client.get(f"/books/{uuid.uuid4()}")
                answers[_kind(response)] += 1
    finally:
        await _start_what_is_missing()
    await wait_ready(url)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        after = await client.get(f"/books/{uuid.uuid4()}")

    print(f"\ndatabase outage drill: {OUTAGE_SECONDS:.0f} s without PgBouncer: {dict(answers)}")
    assert set(answers) == {"503 from the API, Retry-After"}
    assert answers.total() > 10
    assert after.status_code == 404


async def _start_what_is_missing() -> None:
    """`cluster.sh up` starts PgBouncer again and leaves what runs alone."""
    up = await asyncio.create_subprocess_exec("bash", "deploy/cluster.sh", "up")
    async with asyncio.timeout(180):
        assert await up.wait() == 0


def _kind(response: httpx.Response) -> str:
    content_type = response.headers.get("content-type", "")
    if response.status_code == 503 and content_type.startswith("application/problem+json"):
        if response.headers.get("retry-after"):
            return "503 from the API, Retry-After"
        return "503 from the API, no Retry-After"
    return f"{response.status_code} {content_type}"
