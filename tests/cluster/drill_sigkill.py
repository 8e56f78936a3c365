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
#: How long after the kill a request may still be written on one of the dead process's kept-alive
#: connections before nginx has seen it close.
GRACE = 0.1


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
    in_flight = [f for f in figures.failures if f.sent <= killed_at]
    later = [f for f in figures.failures if f.sent > killed_at]
    print(f"\nSIGKILL drill: api-1 (pid {victim}) killed, back as pid {restarted}; ", end="")
    print(f"{figures.summary()}; lost writes: {len(lost)}")
    print(f"  failed: {len(in_flight)} sent before the kill, {len(later)} sent after it")
    for failure in figures.failures[:10]:
        print("  failed:", failure.what)
    assert restarted != victim
    # Only requests in flight when the process died fail: sent before the kill (each user has
    # one at a time), none sent after it, beyond the instant nginx takes to see the dead
    # process's connections close (a request written on one of those in that instant).
    assert len(in_flight) <= USERS
    assert [f for f in later if f.sent > killed_at + GRACE] == []
    assert lost == []
