"""SIGKILL of one API process during load: at most the requests it had in flight fail, nginx
sends the rest to the other process, and the supervisor starts the killed one again.

Run by `make test-cluster` against its cluster (not collected by a plain `pytest`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

from tests.cluster.load import api_pid, cluster_env, lost_writes, run_load, wait_ready

SECONDS = 20.0
USERS = 16


async def test_a_killed_api_process_costs_at_most_its_requests_in_flight() -> None:
    cluster_env("SHELFMARK_E2E_URL")
    port = int(cluster_env("SHELFMARK_CLUSTER_API_PORT0")) + 1
    load = asyncio.create_task(run_load(SECONDS, USERS))
    await asyncio.sleep(5)
    victim = api_pid(1)
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    figures = await load
    lost = await lost_writes(figures)

    await wait_ready(f"http://127.0.0.1:{port}")  # started again by its supervisor
    restarted = api_pid(1)
    late = [f for at, f in figures.failures if at > killed_at + 2]
    print(f"\nSIGKILL drill: api-1 (pid {victim}) killed, back as pid {restarted}; ", end="")
    print(f"{figures.summary()}; lost writes: {len(lost)}")
    for _, failure in figures.failures[:10]:
        print("  failed:", failure)
    assert restarted != victim
    assert len(figures.failures) <= USERS  # each user has one request in flight at most
    assert late == []  # nginx routes around the dead process at once
    assert lost == []
