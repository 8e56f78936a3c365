"""When a task on the event loop lets the others run.

On SQLite, statements run inline on the loop's thread (`inline_sqlite.py`), so nothing makes a
busy task give way by itself: a transaction gives way once before it takes its connection
(`transaction.py`), a read once before it takes its own (`reading.py`). Each such turn waits for
every other ready task's slice, and under load that is tens of milliseconds.

That suits a request, which gives way a few times in all. It starved the background work in the
same process: the outbox relay's in-process delivery paid a turn for each transaction and read
of each consumer (five or more an event) and the mail sender one or two a message, so under a
steady load of 32 to 64 users they fell further behind the commands feeding them for as long as
the load lasted (docs/performance.md). They run `in_steps` instead: after giving way, a step
goes on for half as long as the others just ran (`SHARE`), 5 to 50 ms. So a background task
that has work waiting gets a share of the loop that grows with the load, where one turn per
transaction gave it less the more requests were in flight; and a task that has none takes
nothing. A step still waits where it must (a lock held by another process, a full pool, a
network call), and such a wait lets the others run too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

#: A step of a task `in_steps`: half as long as the others' turn just before it (`SHARE`),
#: within these bounds. The longest keeps one slow turn (a checkpoint, a collection) from
#: buying a long step, and two tasks in steps, each measuring the other's step in its wait,
#: from lengthening each other's.
STEP_SECONDS = 0.005
LONGEST_STEP_SECONDS = 0.05
SHARE = 0.5


@dataclass
class _Step:
    ends: float  # the loop's time at which this step is over


_step: ContextVar[_Step | None] = ContextVar("shelfmark_step", default=None)


async def give_way() -> None:
    """Lets the loop run its other ready tasks first; `in_steps`, only once the step is over."""
    step = _step.get()
    loop = asyncio.get_running_loop()
    if step is not None and loop.time() < step.ends:
        return
    gave_way = loop.time()
    await asyncio.sleep(0)
    if step is not None:
        now = loop.time()
        step.ends = now + min(max(STEP_SECONDS, SHARE * (now - gave_way)), LONGEST_STEP_SECONDS)


@contextmanager
def in_steps() -> Iterator[None]:
    """Within this block (this task and the tasks it starts), `give_way` gives way once a step
    is over instead of at every call; the first step starts now."""
    token = _step.set(_Step(ends=asyncio.get_running_loop().time() + STEP_SECONDS))
    try:
        yield
    finally:
        _step.reset(token)
