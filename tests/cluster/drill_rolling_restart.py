"""Rolling restarts of every API process during a load run drop no request and lose no write
(a POST nginx answers 502 is sent once more with its Idempotency-Key: tests/cluster/load.py).

Run by `make test-cluster` against its cluster (not collected by a plain `pytest`: the file
name does not start with test_). SHELFMARK_DRILL_SECONDS sets the load's length (60).
"""

from __future__ import annotations

import asyncio
import os
import time

from tests.cluster.load import cluster_env, lost_writes, run_load

SECONDS = float(os.environ.get("SHELFMARK_DRILL_SECONDS", "60"))
USERS = 16


async def test_rolling_restarts_under_load_drop_nothing() -> None:
    cluster_env("SHELFMARK_E2E_URL")
    load = asyncio.create_task(run_load(SECONDS, USERS, resend_502=True))
    restarts = 0
    deadline = time.monotonic() + SECONDS - 5
    await asyncio.sleep(3)  # the load is under way
    while time.monotonic() < deadline:
        restart = await asyncio.create_subprocess_exec("bash", "deploy/cluster.sh", "restart-api")
        assert await restart.wait() == 0, "cluster.sh restart-api failed"
        restarts += 1
    figures = await load
    lost = await lost_writes(figures)

    print(f"\nrolling restart drill: {restarts} rolling restarts of every API process; ", end="")
    print(f"{figures.summary()}; lost writes: {len(lost)}")
    for failure in figures.failures[:10]:
        print("  failed:", failure.what)
    assert restarts >= 1
    assert figures.failures == []
    assert lost == []
