"""What one write costs the embedded process, in CPU, phase by phase, without HTTP.

On a fresh SQLite database, N borrows and N returns run through `Shelfmark.execute` (the
command), then their events are relayed to the consumers (search index, notifications,
lending, cache), then their e-mails are sent (the file mailer). Each phase's process CPU time
is divided by the 2N writes. To compare two builds, run it interleaved with the other build's
source first on the path (`PYTHONPATH=<worktree>/src .venv/bin/python bench/write_costs.py`),
as docs/performance.md says.

    .venv/bin/python bench/write_costs.py [N]      (N = 300)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from uuid import UUID

from shelfmark.bootstrap import Shelfmark, bootstrap, migrations
from shelfmark.catalog.application.commands import AddBook
from shelfmark.config import Settings
from shelfmark.entrypoints.workers.mail import MailWorker
from shelfmark.lending.application.commands import BorrowBook, ReturnLoan
from shelfmark.patrons.application.commands import RegisterPatron
from shelfmark.seedwork.infrastructure.database import create_engines


async def relay_all(app: Shelfmark) -> None:
    while await app.events.relay.relay_once(app.clock.now()):
        pass


async def send_all(app: Shelfmark) -> None:
    mail = MailWorker(app)
    while await mail.round():
        pass


async def main(n: int) -> None:
    directory = Path(tempfile.mkdtemp(prefix="write-costs-"))
    engines = create_engines(f"sqlite+aiosqlite:///{directory / 'shelfmark.db'}")
    await migrations.upgrade(engines.write)
    app = bootstrap(Settings(var_dir=directory), engines=engines)
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

        started = time.process_time()
        loans = [
            await app.execute(BorrowBook(book_id=b, patron_id=p))
            for b, p in zip(books, patrons, strict=True)
        ]
        for loan in loans:
            await app.execute(ReturnLoan(loan_id=loan))
        commanded = time.process_time()
        await relay_all(app)
        relayed = time.process_time()
        await send_all(app)
        sent = time.process_time()
    finally:
        await app.dispose()
    writes = 2 * n
    print(
        f"{writes} writes, CPU per write: command {1000 * (commanded - started) / writes:.2f} ms,"
        f" events to the consumers {1000 * (relayed - commanded) / writes:.2f} ms,"
        f" e-mail {1000 * (sent - relayed) / writes:.2f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
