"""Measurement hooks for bench/run.py, shared by the locustfiles.

BENCH_MEASURE_AFTER=<seconds>: reset Locust's statistics that long after the test starts, so
the logins and connection set-up of each step are not measured. BENCH_STATS_FILE: where the
final statistics go as JSON when Locust quits (its --csv files are written on a timer and may
miss the last second).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import gevent
from locust import events


@events.test_start.add_listener
def _schedule_reset(environment: Any, **_: Any) -> None:
    delay = float(os.environ.get("BENCH_MEASURE_AFTER", "0"))
    if delay > 0 and type(environment.runner).__name__ != "WorkerRunner":

        def reset() -> None:
            environment.runner.stats.reset_all()
            environment.events.reset_stats.fire()

        gevent.spawn_later(delay, reset)


def _summary(entry: Any) -> dict[str, Any]:
    percentile = entry.get_response_time_percentile
    return {
        "method": entry.method,
        "name": entry.name,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "p50": percentile(0.5) if entry.num_requests else 0,
        "p95": percentile(0.95) if entry.num_requests else 0,
        "p99": percentile(0.99) if entry.num_requests else 0,
        "rps": entry.total_rps,
    }


@events.quitting.add_listener
def _write_stats(environment: Any, **_: Any) -> None:
    """BENCH_STATS_FILE: the final totals and each endpoint's figures, as JSON."""
    target = os.environ.get("BENCH_STATS_FILE")
    if not target or type(environment.runner).__name__ == "WorkerRunner":
        return
    stats = environment.runner.stats
    entries = sorted(stats.entries.values(), key=lambda e: (e.name, e.method))
    Path(target).write_text(
        json.dumps({"total": _summary(stats.total), "entries": [_summary(e) for e in entries]})
    )
