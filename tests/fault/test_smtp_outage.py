"""The SMTP server down for a while: borrowing is unaffected, the mail breaker opens and later
closes, and every e-mail is sent exactly once after the server is back.

Run alone, with its figures printed: `make fault-smtp`.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.notifications.infrastructure.orm import notifications
from shelfmark.seedwork.infrastructure.database import Engines
from tests.fault.conftest import breaker_state, notification_counts, running, sampler
from tests.fault.traffic import Traffic, borrow_and_return, pairs, summary
from tests.support.broker import eventually
from tests.support.mail_servers import LocalSmtpServer

pytestmark = [pytest.mark.fault, pytest.mark.long, pytest.mark.postgres]

PAIRS = 20
CYCLES = 5  # 200 operations in each phase
PAUSE = 0.05


@pytest.fixture
async def smtp() -> AsyncIterator[LocalSmtpServer]:
    server = LocalSmtpServer()
    await server.start()
    yield server
    await server.stop()


async def test_an_smtp_outage_delays_mail_but_never_the_desk(
    postgres_engines: Engines, smtp: LocalSmtpServer, tmp_path: Path
) -> None:
    settings = Settings(
        mail_adapter="smtp",
        smtp_port=smtp.port,
        mail_timeout_seconds=2,
        mail_poll_seconds=0.2,
        mail_first_retry_seconds=1,
        breaker_open_seconds=2,
        var_dir=tmp_path,
        scheduler_enabled=False,
    )
    app = bootstrap(settings, engines=postgres_engines)
    states: set[str] = set()
    async with running(app, ["relay", "mail"]) as api:
        made = await pairs(api, PAIRS)
        up, down = Traffic(), Traffic()
        await asyncio.gather(*(borrow_and_return(api, p, CYCLES, up, PAUSE) for p in made))
        await eventually(all_sent(app), within=30, what="the first phase's mail sent")

        await smtp.stop()
        watch = sampler(lambda: breaker_state(app, "mail.smtp"), states)
        await asyncio.gather(*(borrow_and_return(api, p, CYCLES, down, PAUSE) for p in made))

        async def opened() -> bool:
            return "open" in states

        await eventually(opened, within=30, what="the mail breaker opened")
        queued_while_down = (await notification_counts(app)).get("queued", 0)
        await smtp.start()
        await eventually(all_sent(app), within=60, what="every e-mail sent after recovery")
        watch.cancel()

    async with postgres_engines.read.connect() as connection:
        ids = {row[0] for row in await connection.execute(select(notifications.c.id))}
    received = Counter(mail.message["Message-ID"] for mail in smtp.received)
    up_ms, down_ms = up.latencies_ms(), down.latencies_ms()
    print(
        f"\nSMTP up:   {summary(up_ms)}\nSMTP down: {summary(down_ms)}"
        f"\n  mail breaker states seen: {sorted(states)}; {queued_while_down} e-mails waited"
        f"\n  notifications {len(ids)}, messages received {sum(received.values())}, "
        f"distinct {len(received)}"
    )
    assert up.statuses() == down.statuses() == {201: PAIRS * CYCLES, 200: PAIRS * CYCLES}
    assert queued_while_down > 0
    assert received == Counter({f"<{i}@shelfmark>": 1 for i in ids}), "not each sent once"
    assert breaker_state(app, "mail.smtp") == "closed"
    # Latency unchanged within noise: nothing on the desk's path waits for mail.
    assert statistics.median(down_ms) < 2 * statistics.median(up_ms) + 20
    await app.events.close()


def all_sent(app: Shelfmark) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return set(await notification_counts(app)) == {"sent"}

    return check
