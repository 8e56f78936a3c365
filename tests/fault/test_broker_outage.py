"""RabbitMQ unreachable for 20 seconds in the middle of 1,000 borrows and returns over HTTP:
the desk never notices, and afterwards every event is published and applied exactly once.

Run alone, with its figures printed: `make fault-broker`.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.seedwork.infrastructure.database import Engines
from tests.fault.conftest import (
    breaker_state,
    notification_counts,
    outbox_ids,
    running,
    sampler,
    unpublished,
)
from tests.fault.traffic import Traffic, borrow_and_return, pairs, summary
from tests.support.broker import RABBITMQ_HOST, RABBITMQ_PORT, amqp_url, eventually
from tests.support.counting_consumer import CountingConsumer
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.fault, pytest.mark.long, pytest.mark.postgres]

PAIRS = 50
CYCLES = 10  # 50 pairs x 10 x (borrow + return) = 1,000 operations
OUTAGE_SECONDS = 20.0
PAUSE = 1.6  # spreads the run (about 35 s) around the outage
CIRCULATION = frozenset({"BookBorrowed", "BookReturned"})


async def closes_with_traffic(
    app: Shelfmark, api: httpx.AsyncClient, pair: tuple[str, str]
) -> bool:
    """A half-open breaker closes after its trial calls; once the backlog is gone the relay
    only calls the broker for new events, so make a few."""
    traffic = Traffic()
    for _ in range(5):
        if breaker_state(app, "broker.publish") == "closed":
            return True
        await borrow_and_return(api, pair, 1, traffic, 0.0)

        async def relayed() -> bool:
            return await unpublished(app) == 0

        await eventually(relayed, within=30, what="the new events published")
    return breaker_state(app, "broker.publish") == "closed"


async def test_a_broker_outage_loses_nothing_and_duplicates_nothing(
    postgres_engines: Engines, prefix: str, effects_table: None, tmp_path: Path
) -> None:
    async with TcpProxy(RABBITMQ_HOST, RABBITMQ_PORT) as proxy:
        settings = Settings(
            broker_url=amqp_url(proxy.port),
            broker_prefix=prefix,
            breaker_open_seconds=2,
            relay_poll_seconds=0.5,
            mail_poll_seconds=0.5,
            var_dir=tmp_path,
            scheduler_enabled=False,
        )
        counting = CountingConsumer(postgres_engines.write, CIRCULATION)
        app = bootstrap(settings, engines=postgres_engines, consumers=[counting])
        states: set[str] = set()
        async with running(app, ["relay", "consume", "mail"]) as api:
            made = await pairs(api, PAIRS)
            traffic = Traffic()
            outage: dict[str, float] = {}

            async def warmed_up() -> bool:
                return len(traffic.answers) >= 150

            async def cut_mid_run() -> None:
                await eventually(warmed_up, within=60, what="150 answers before the cut")
                await proxy.cut()
                outage["from"] = time.monotonic()
                await asyncio.sleep(OUTAGE_SECONDS)
                await proxy.restore()
                outage["to"] = time.monotonic()

            watch = sampler(lambda: breaker_state(app, "broker.publish"), states)
            await asyncio.gather(
                cut_mid_run(),
                *(borrow_and_return(api, pair, CYCLES, traffic, PAUSE) for pair in made),
            )
            during = [a for a in traffic.answers if outage["from"] <= a.started < outage["to"]]
            expected = await outbox_ids(app, CIRCULATION)

            async def settled() -> bool:
                effects = await counting.effects()
                mail = await notification_counts(app)
                return (
                    await unpublished(app) == 0
                    and set(effects) == expected
                    and mail.get("sent", 0) == len(expected)
                )

            await eventually(settled, within=90, what="every event published and applied")
            watch.cancel()
            effects = await counting.effects()
            deliveries = sum(counting.deliveries.values())
            closed = await closes_with_traffic(app, api, made[0])

        print(
            f"\n{len(traffic.answers)} operations, statuses {traffic.statuses()}; "
            f"{len(during)} during the {OUTAGE_SECONDS:.0f} s outage"
            f"\n  before: {summary(traffic.latencies_ms(0, outage['from']))}"
            f"\n  during: {summary(traffic.latencies_ms(outage['from'], outage['to']))}"
            f"\n  after:  {summary(traffic.latencies_ms(outage['to']))}"
            f"\n  broker breaker states seen: {sorted(states)}"
            f"\n  events {len(expected)}, effects {sum(effects.values())}, redeliveries "
            f"absorbed by the inbox {deliveries - len(expected)}"
        )
        assert len(traffic.answers) == 2 * PAIRS * CYCLES
        assert traffic.statuses() == {201: PAIRS * CYCLES, 200: PAIRS * CYCLES}
        assert len(during) > 100, "the outage must fall in the middle of the run"
        assert "open" in states, "the broker's breaker should have opened during the outage"
        assert set(effects.values()) == {1}, "an event was applied twice"
        assert set(effects) == expected, "an event was never applied"
        assert closed, "the broker's breaker should close once publishing works again"
        await app.events.close()
