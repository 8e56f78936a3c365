"""Load shapes for the Locust scenarios, chosen with BENCH_SHAPE=steps|spike|soak.

Every shape ends by itself (tick returns None), so a headless run stops without `-t`.
Durations and user counts come from the environment, so the same shapes serve a quick look
and a long run:

- steps: BENCH_STEPS users per step (default "8,16,32,64"), each held BENCH_STEP_SECONDS
  (default 30), ramping at BENCH_SPAWN_RATE users/s (default 50) between steps, then ramping
  down through the same steps in reverse (half the hold time each) to zero.
- spike: BENCH_BASE_USERS (default 10) for 60 s, BENCH_SPIKE_USERS (default 100) for 30 s,
  the base again for 60 s, then stop.
- soak: BENCH_SOAK_USERS (default 32) for BENCH_SOAK_SECONDS (default 600, at most 4 h).
"""

from __future__ import annotations

import os

from locust import LoadTestShape

SOAK_LIMIT_SECONDS = 4 * 3600


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


class StepsShape(LoadTestShape):
    """Ramp up through the steps, hold each, then ramp down the same way."""

    def __init__(self) -> None:
        super().__init__()
        steps = [int(s) for s in os.environ.get("BENCH_STEPS", "8,16,32,64").split(",") if s]
        hold = _env_float("BENCH_STEP_SECONDS", 30)
        self.rate = _env_float("BENCH_SPAWN_RATE", 50)
        self.plan: list[tuple[float, int]] = []  # (end of the stage in seconds, users)
        elapsed = 0.0
        for users in steps:
            elapsed += hold
            self.plan.append((elapsed, users))
        for users in [*reversed(steps[:-1]), 0]:
            elapsed += hold / 2
            self.plan.append((elapsed, users))

    def tick(self) -> tuple[int, float] | None:
        now = self.get_run_time()
        for end, users in self.plan:
            if now < end:
                return users, self.rate
        return None


class SpikeShape(LoadTestShape):
    """A steady base, a sudden spike, the base again."""

    def __init__(self) -> None:
        super().__init__()
        base = _env_int("BENCH_BASE_USERS", 10)
        spike = _env_int("BENCH_SPIKE_USERS", 100)
        self.plan = [(60.0, base, 10.0), (90.0, spike, float(spike)), (150.0, base, 100.0)]

    def tick(self) -> tuple[int, float] | None:
        now = self.get_run_time()
        for end, users, rate in self.plan:
            if now < end:
                return users, rate
        return None


class SoakShape(LoadTestShape):
    """A constant load for a bounded time (never longer than four hours)."""

    def __init__(self) -> None:
        super().__init__()
        self.users = _env_int("BENCH_SOAK_USERS", 32)
        self.seconds = min(_env_float("BENCH_SOAK_SECONDS", 600), SOAK_LIMIT_SECONDS)

    def tick(self) -> tuple[int, float] | None:
        if self.get_run_time() < self.seconds:
            return self.users, 10.0
        return None


SHAPES: dict[str, type[LoadTestShape]] = {
    "steps": StepsShape,
    "spike": SpikeShape,
    "soak": SoakShape,
}
