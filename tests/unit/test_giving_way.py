"""A task gives way to the others at each `give_way`, unless it runs `in_steps`: then once a
step is over, a step lasting half as long as the others just ran, within `STEP_SECONDS` and
`LONGEST_STEP_SECONDS`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from shelfmark.seedwork.infrastructure import giving_way
from shelfmark.seedwork.infrastructure.giving_way import give_way, in_steps


class Turns:
    """Another ready task: counts the turns the loop gives it, each `busy` seconds long."""

    def __init__(self, busy: float = 0.0) -> None:
        self.count = 0
        self.busy = busy

    async def run(self) -> None:
        while True:
            self.count += 1
            time.sleep(self.busy)  # noqa: ASYNC251 (the work of a busy request, on the loop)
            await asyncio.sleep(0)


@pytest.fixture
async def others() -> AsyncIterator[Callable[[float], Turns]]:
    tasks: list[asyncio.Task[None]] = []

    def start(busy: float = 0.0) -> Turns:
        turns = Turns(busy)
        tasks.append(asyncio.create_task(turns.run()))
        return turns

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_outside_steps_every_call_lets_the_others_run(
    others: Callable[[float], Turns],
) -> None:
    turns = others(0.0)
    await asyncio.sleep(0)  # it has started
    before = turns.count

    for _ in range(50):
        await give_way()

    assert turns.count - before == 50


async def test_in_steps_the_calls_of_one_step_let_nobody_run(
    others: Callable[[float], Turns], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(giving_way, "STEP_SECONDS", 60.0)
    turns = others(0.0)
    await asyncio.sleep(0)
    before = turns.count

    with in_steps():
        for _ in range(50):
            await give_way()

    assert turns.count == before


async def test_a_step_lasts_half_as_long_as_the_others_ran_before_it(
    others: Callable[[float], Turns], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(giving_way, "STEP_SECONDS", 0.0)
    monkeypatch.setattr(giving_way, "LONGEST_STEP_SECONDS", 60.0)
    turns = others(0.4)  # a request that holds the loop for 0.4 s a turn
    loop = asyncio.get_running_loop()

    with in_steps():
        gave_way = loop.time()
        await give_way()  # the first step is over at once: the other one runs its 0.4 s
        waited = loop.time() - gave_way
        assert turns.count == 1
        for _ in range(50):  # at once: the same step
            await give_way()
        assert turns.count == 1
        time.sleep(giving_way.SHARE * waited + 0.05)  # noqa: ASYNC251 (this step's own work)
        await give_way()
        assert turns.count == 2


async def test_a_step_is_never_longer_than_the_longest(
    others: Callable[[float], Turns], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(giving_way, "LONGEST_STEP_SECONDS", 0.05)
    turns = others(0.4)

    with in_steps():
        time.sleep(giving_way.STEP_SECONDS)  # noqa: ASYNC251 (past the first step)
        await give_way()
        assert turns.count == 1
        time.sleep(0.06)  # noqa: ASYNC251 (past the longest step, well short of 0.2 s)
        await give_way()
        assert turns.count == 2


async def test_outside_the_block_every_call_gives_way_again(
    others: Callable[[float], Turns], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(giving_way, "STEP_SECONDS", 60.0)
    turns = others(0.0)
    await asyncio.sleep(0)
    with in_steps():
        await give_way()
    before = turns.count

    await give_way()

    assert turns.count == before + 1
