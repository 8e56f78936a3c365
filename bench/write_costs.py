"""What one write costs the embedded process, in CPU, phase by phase, without HTTP.

On a fresh SQLite database, N borrows and N returns run through `Shelfmark.execute` (the
command), their events are relayed to the consumers (search index, notifications, lending,
cache), then their e-mails are sent (the file mailer). Each phase's process CPU time is divided
by the 2N writes, and the events' share is split between the consumers (each one's `handle`,
timed) and the relay's own work (reading the outbox, marking it, delivering).

Two ways to run the phases:

- batched (the default): all the commands, then one relay drain, then one mail drain: the
  relay's and the mail worker's rounds are shared by many writes, as on a busy server;
- `--one-at-a-time`: each write's command, relay drain and mail drain in turn, as on a quiet
  server (or a busy one whose background rounds catch one write each): every round's fixed
  cost falls on one write.

To compare two builds, run it interleaved with the other build's source first on the path
(`PYTHONPATH=<worktree>/src .venv/bin/python bench/write_costs.py`), as docs/performance.md
says.

    .venv/bin/python bench/write_costs.py [N] [--one-at-a-time]      (N = 300)
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from uuid import UUID

from shelfmark.bootstrap import Shelfmark, bootstrap, migrations
from shelfmark.catalog.application.commands import AddBook
from shelfmark.config import Settings
from shelfmark.entrypoints.workers.mail import MailWorker
from shelfmark.lending.application.commands import BorrowBook, ReturnLoan
from shelfmark.patrons.application.commands import RegisterPatron
from shelfmark.seedwork.infrastructure.database import create_engines
from shelfmark.seedwork.messaging import Envelope


async def relay_all(app: Shelfmark) -> None:
    while await app.events.relay.relay_once(app.clock.now()):
        pass


async def send_all(app: Shelfmark) -> None:
    mail = MailWorker(app)
    while await mail.round():
        pass


def time_consumers(app: Shelfmark, spent: Counter[str]) -> None:
    """Counts each consumer's CPU in `spent`, by name (the bus calls `consumer.handle`)."""
    for consumer in app.events.consumers:
        handle: Callable[[Envelope], Awaitable[None]] = consumer.handle

        async def timed(envelope: Envelope, handle=handle, name=consumer.name) -> None:  # type: ignore[no-untyped-def]
            started = time.process_time()
            try:
                await handle(envelope)
            finally:
                spent[name] += time.process_time() - started

        consumer.handle = timed  # type: ignore[method-assign]


class Phases:
    def __init__(self) -> None:
        self.spent: Counter[str] = Counter()

    async def run(self, phase: str, work: Awaitable[object]) -> object:
        started = time.process_time()
        try:
            return await work
        finally:
            self.spent[phase] += time.process_time() - started


async def main(n: int, one_at_a_time: bool) -> None:
    directory = Path(tempfile.mkdtemp(prefix="write-costs-"))
    engines = create_engines(f"sqlite:///{directory / 'shelfmark.db'}")
    await migrations.upgrade(engines.write)
    app = bootstrap(Settings(var_dir=directory), engines=engines)
    phases, consumers = Phases(), Counter[str]()
    try:
        books, patrons = [], []
        for i in range(n):
            books.append(UUID(str(await app.execute(AddBook(title=f"Book {i}", author="A")))))
            register = RegisterPatron(
                first_name="Reader", last_name=str(i), email=f"r{i}@example.org"
            )
            patrons.append(UUID(str(await app.execute(register))))
        await relay_all(app)
        await send_all(app)
        time_consumers(app, consumers)

        async def after(command: Awaitable[object]) -> object:
            done = await phases.run("command", command)
            if one_at_a_time:
                await phases.run("events", relay_all(app))
                await phases.run("e-mail", send_all(app))
            return done

        loans = [
            await after(app.execute(BorrowBook(book_id=b, patron_id=p)))
            for b, p in zip(books, patrons, strict=True)
        ]
        for loan in loans:
            await after(app.execute(ReturnLoan(loan_id=UUID(str(loan)))))
        if not one_at_a_time:
            await phases.run("events", relay_all(app))
            await phases.run("e-mail", send_all(app))
    finally:
        await app.dispose()
        shutil.rmtree(directory, ignore_errors=True)
    writes = 2 * n

    def ms(seconds: float) -> str:
        return f"{1000 * seconds / writes:.2f} ms"

    relay_itself = phases.spent["events"] - sum(consumers.values())
    split = ", ".join(f"{name} {ms(spent)}" for name, spent in consumers.most_common())
    print(
        f"{writes} writes, {'one at a time' if one_at_a_time else 'batched'}, CPU per write:"
        f" command {ms(phases.spent['command'])},"
        f" events to the consumers {ms(phases.spent['events'])}"
        f" ({split}, the relay itself {ms(relay_itself)}),"
        f" e-mail {ms(phases.spent['e-mail'])}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=300, help="borrows (and returns)")
    parser.add_argument("--one-at-a-time", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.one_at_a_time))
