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


def exited(pid: int) -> bool:
    """Gone, or a zombie its supervisor has not reaped yet: its sockets are closed either way."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


async def test_a_killed_api_process_costs_at_most_its_requests_in_flight() -> None:
    cluster_env("SHELFMARK_E2E_URL")
    port = int(cluster_env("SHELFMARK_CLUSTER_API_PORT0")) + 1
    load = asyncio.create_task(run_load(SECONDS, USERS))
    await asyncio.sleep(5)
    victim = api_pid(1)
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    while not exited(victim):  # noqa: ASYNC110 - no event to wait on: /proc is polled
        await asyncio.sleep(0.001)
    gone_at = time.monotonic()
    figures = await load
    lost = await lost_writes(figures)

    await wait_ready(f"http://127.0.0.1:{port}")  # started again by its supervisor
    restarted = api_pid(1)
    # In flight: sent before the process was gone, failed once it was being killed.
    in_flight = [f for f in figures.failures if f.sent <= gone_at and f.ended >= killed_at]
    other = [f for f in figures.failures if f not in in_flight]
    print(f"\nSIGKILL drill: api-1 (pid {victim}) killed, back as pid {restarted}; ", end="")
    print(f"{figures.summary()}; lost writes: {len(lost)}")
    dying = 1000 * (gone_at - killed_at)
    print(f"  failed: {len(in_flight)} in flight as it died ({dying:.1f} ms), {len(other)} others")
    for failure in figures.failures[:10]:
        print("  failed:", failure.what)
    assert restarted != victim
    assert len(in_flight) <= USERS  # each user has one request in flight at a time
    # None other, but a request written in the instant nginx takes to see the dead process's
    # kept-alive connections close.
    assert [f for f in other if f.sent > gone_at + GRACE or f.ended < killed_at] == []
    assert lost == []
