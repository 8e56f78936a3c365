"""PgBouncer, the API processes' way to the database, stopped for a few seconds: every read that
needs the database is answered by the API itself through nginx, 503 problem+json with
Retry-After, and never by nginx's own 502 ("no live upstreams"), which an API's 503 would cause
if nginx took it for a failed process. Once PgBouncer is started again the reads answer as
before, and no API process or worker was restarted.

Run by `make test-cluster` against its cluster (not collected by a plain `pytest`): it needs the
cluster variables that deploy/test-cluster.sh exports, to start PgBouncer again with
`deploy/cluster.sh up` (which starts only what is not running).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

from tests.cluster.drill_sigkill import exited
from tests.cluster.load import cluster_env, wait_ready

OUTAGE_SECONDS = 4.0
STOP_SECONDS = 10.0
UP_SECONDS = 600.0


def pids(pattern: str) -> dict[str, int]:
    """The cluster's processes of these pid files (not their supervisors), by file name."""
    run = Path(cluster_env("SHELFMARK_CLUSTER_RUN_DIR"))
    files = (f for f in sorted(run.glob(pattern)) if not f.name.endswith(".supervisor.pid"))
    return {f.name: int(f.read_text()) for f in files}


async def test_a_database_outage_is_answered_503_by_the_api_not_502_by_nginx() -> None:
    url = cluster_env("SHELFMARK_E2E_URL")
    cluster_env("SHELFMARK_CLUSTER_DIR")  # `cluster.sh up` must find this cluster, not another
    serving = pids("api-*.pid") | pids("worker-*.pid")
    answers: Counter[str] = Counter()
    try:
        await _stop(pids("pgbouncer.pid")["pgbouncer.pid"])
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
    assert pids("api-*.pid") | pids("worker-*.pid") == serving


async def _stop(pgbouncer: int) -> None:
    """SIGTERM, PgBouncer 1.18's immediate shutdown (later versions wait for the clients there:
    after STOP_SECONDS it is killed)."""
    os.kill(pgbouncer, signal.SIGTERM)
    ends = time.monotonic() + STOP_SECONDS
    while not exited(pgbouncer):
        if time.monotonic() > ends:
            os.kill(pgbouncer, signal.SIGKILL)
        await asyncio.sleep(0.01)


async def _start_what_is_missing() -> None:
    up = await asyncio.create_subprocess_exec("bash", "deploy/cluster.sh", "up")
    try:
        async with asyncio.timeout(UP_SECONDS):
            assert await up.wait() == 0
    finally:
        if up.returncode is None:
            up.kill()
            await up.wait()


def _kind(response: httpx.Response) -> str:
    content_type = response.headers.get("content-type", "")
    if response.status_code == 503 and content_type.startswith("application/problem+json"):
        if response.headers.get("retry-after"):
            return "503 from the API, Retry-After"
        return "503 from the API, no Retry-After"
    return f"{response.status_code} {content_type}"
