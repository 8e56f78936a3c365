"""The fault matrix: each dependency (PostgreSQL, the Redis read cache, RabbitMQ, SMTP, etcd)
behind a TCP proxy, each fault (latency, blackhole, reset) on for a few seconds while
librarians work over loopback HTTP, then cleared while they go on.

What must hold: no answer is a 500 or comes later than the request budget (plus scheduling
slack); only the database's faults may cost the desk anything, and then as 503 problem+json
with Retry-After; events wait in the outbox and e-mails in the notifications table while
their dependency is away; etcd's live settings stay as they were while readiness says etcd is
degraded; once the fault clears, everything recovers by itself, with every event applied once,
every e-mail received once, every acknowledged loan stored and a policy change made in etcd
during the fault applied.

`make faults` runs it with SHELFMARK_FAULTS_REPORT=bench/results/faults.md, which writes the
figures there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.lending.infrastructure.orm import loans
from shelfmark.notifications.infrastructure.orm import notifications
from shelfmark.seedwork.infrastructure.database import Engines, create_engines
from shelfmark.seedwork.infrastructure.outbox import outbox
from shelfmark.seedwork.infrastructure.rabbitmq_dead_letters import RabbitMQDeadLetters
from tests.cluster.etcd import Etcd, etcd_server
from tests.fault.matrix import Answers, Figures, desk, pairs, served, write_report
from tests.support.broker import RABBITMQ_HOST, RABBITMQ_PORT, amqp_url, eventually
from tests.support.counting_consumer import CountingConsumer
from tests.support.mail_servers import LocalSmtpServer
from tests.support.redis_cache import REDIS_HOST, REDIS_PORT
from tests.support.redis_cache import private_prefix as redis_prefix
from tests.support.replica import database_on_replica
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.fault, pytest.mark.postgres]

DEPENDENCIES = ("postgres", "replica", "redis", "rabbitmq", "smtp", "etcd")
FAULTS = ("latency", "blackhole", "reset")
#: What `make test` runs (the others are `long`: `make faults` runs all eighteen): a blackhole,
#: the fault a timeout must end, for each dependency, and the database's connection resets.
QUICK = frozenset({*((d, "blackhole") for d in DEPENDENCIES), ("postgres", "reset")})
CASES = [
    pytest.param(d, f, marks=() if (d, f) in QUICK else pytest.mark.long, id=f"{d}-{f}")
    for d in DEPENDENCIES
    for f in FAULTS
]
#: Per direction. Redis's is past the cache's own timeout (0.25 s): the cache gives up on it.
LATENCY_MS = {
    "postgres": 20,
    "replica": 20,
    "redis": 400,
    "rabbitmq": 50,
    "smtp": 100,
    "etcd": 100,
}
BUDGET = 5.0
#: Allowance on top of the budget for loopback HTTP and a busy event loop, as seen by a client.
SLACK = 2.0
FAULT_SECONDS = 3.0
PAIRS = 6
AFTER_STEPS = 3
SETTLE_WITHIN = 40.0
CIRCULATION = frozenset({"BookBorrowed", "BookReturned"})
LOAN_PERIOD = "policy/categories.regular.loan_period_days"
REPORT = os.environ.get("SHELFMARK_FAULTS_REPORT")

figures: list[Figures] = []


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    if REPORT and figures:
        write_report(Path(REPORT), figures, budget=BUDGET, fault_seconds=FAULT_SECONDS, desks=PAIRS)


@dataclass
class Rig:
    app: Shelfmark
    proxies: dict[str, TcpProxy]
    smtp: LocalSmtpServer
    counting: CountingConsumer
    #: Not through the proxies: the test's own look at the database, and etcd itself.
    direct: Engines
    etcd: Etcd | None
    etcd_prefix: str


@pytest.fixture
async def rig(
    postgres_url: str,
    postgres_engines: Engines,
    prefix: str,
    effects_table: None,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Rig]:
    """The service with every dependency behind its own proxy (the SMTP server and etcd are
    the test's own); for the replica's cases, reads from a streaming replica too."""
    async with redis_prefix() as cache_prefix, contextlib.AsyncExitStack() as stack:
        dependency = request.node.callspec.params["dependency"]
        # etcd only for its own cases: a machine without etcd still runs the others.
        etcd = stack.enter_context(etcd_server(tmp_path)) if dependency == "etcd" else None
        etcd_prefix = f"/shelfmark/{prefix}/"
        smtp = LocalSmtpServer()
        await smtp.start()
        stack.push_async_callback(smtp.stop)
        database = make_url(postgres_url)
        proxies = {
            "postgres": TcpProxy(database.host or "127.0.0.1", database.port or 5432),
            "redis": TcpProxy(REDIS_HOST, REDIS_PORT),
            "rabbitmq": TcpProxy(RABBITMQ_HOST, RABBITMQ_PORT),
            "smtp": TcpProxy("127.0.0.1", smtp.port),
        }
        if etcd is not None:
            proxies["etcd"] = TcpProxy("127.0.0.1", int(etcd.url.rsplit(":", 1)[1]))
        for proxy in proxies.values():
            await stack.enter_async_context(proxy)
        read_url = None
        if dependency == "replica":
            port = request.getfixturevalue("replica_port")  # started on first use only
            replica = make_url(await database_on_replica(port, postgres_url))
            proxies["replica"] = TcpProxy("127.0.0.1", replica.port or 5432)
            await stack.enter_async_context(proxies["replica"])
            read_url = replica.set(host="127.0.0.1", port=proxies["replica"].port)
        engines = create_engines(
            database.set(host="127.0.0.1", port=proxies["postgres"].port).render_as_string(
                hide_password=False
            ),
            read_url=read_url.render_as_string(hide_password=False) if read_url else None,
            connect_timeout=1.0,
            statement_timeout=1.0,
        )
        settings = Settings(
            request_timeout_seconds=BUDGET,
            cache_url=f"redis://127.0.0.1:{proxies['redis'].port}/0",
            cache_prefix=cache_prefix,
            broker_url=amqp_url(proxies["rabbitmq"].port),
            broker_prefix=prefix,
            broker_timeout_seconds=2,
            mail_adapter="smtp",
            smtp_port=proxies["smtp"].port,
            # Well past a send under the SMTP latency: a send that times out after the server
            # accepted the message (its reply lost) would be sent twice.
            mail_timeout_seconds=5,
            mail_poll_seconds=0.2,
            mail_first_retry_seconds=0.5,
            breaker_open_seconds=1,
            relay_poll_seconds=0.2,
            etcd_endpoints=[etcd.url] if etcd else [],
            etcd_prefix=etcd_prefix,
            var_dir=tmp_path,
            scheduler_enabled=False,
        )
        counting = CountingConsumer(engines.write, CIRCULATION)
        app = bootstrap(settings, engines=engines, consumers=[counting])
        if app.live is not None:
            # The start reads etcd directly: that read is synchronous (nothing is served yet)
            # and would block the proxy, which runs in this event loop. The watch goes through.
            app.live.endpoints = [f"http://127.0.0.1:{proxies['etcd'].port}"]
        try:
            yield Rig(app, proxies, smtp, counting, postgres_engines, etcd, etcd_prefix)
        finally:
            for proxy in proxies.values():
                await proxy.heal()
            await app.dispose()


async def inject(proxy: TcpProxy, fault: str, dependency: str) -> None:
    if fault == "latency":
        proxy.set_latency(LATENCY_MS[dependency])
    elif fault == "blackhole":
        proxy.set_blackhole(True)
    else:
        await proxy.set_reset(True)


@dataclass
class Backlog:
    """The most events waiting in the outbox and e-mails waiting to be sent, seen at once."""

    events: int = 0
    emails: int = 0


async def waiting(engines: Engines) -> Backlog:
    """Events in the outbox not yet published, e-mails not yet sent."""
    async with engines.write.connect() as connection:
        events = await connection.scalar(
            select(func.count()).where(outbox.c.published_at.is_(None))
        )
        emails = await connection.scalar(
            select(func.count()).where(notifications.c.status == "queued")
        )
    return Backlog(int(events or 0), int(emails or 0))


def watch_backlog(engines: Engines, backlog: Backlog) -> asyncio.Task[None]:
    async def watch() -> None:
        while True:
            now = await waiting(engines)
            backlog.events = max(backlog.events, now.events)
            backlog.emails = max(backlog.emails, now.emails)
            await asyncio.sleep(0.1)

    return asyncio.create_task(watch())


async def seconds_until(condition: Callable[[], Awaitable[bool]], within: float) -> float:
    """How long until `condition` held; infinity if it did not within `within` seconds."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > within:
            return float("inf")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@dataclass(frozen=True)
class Effects:
    events: set[object]
    applied: Counter[object]
    emails: set[str]
    received: Counter[str]
    loans_stored: set[str]

    @property
    def settled(self) -> bool:
        return set(self.applied) == self.events and set(self.received) == self.emails

    def lost(self, loans_made: set[str]) -> int:
        return (
            len(self.events - set(self.applied))
            + len(self.emails - set(self.received))
            + len(loans_made - self.loans_stored)
        )

    @property
    def doubled(self) -> int:
        return sum(n - 1 for n in (*self.applied.values(), *self.received.values()) if n > 1)


CHANGED_PERIOD = 9


def loan_period(app: Shelfmark) -> int:
    return app.policy.categories["regular"].loan_period_days


async def etcd_during_fault(rig: Rig, api: httpx.AsyncClient, fault: str) -> str:
    """Changes a lending number in etcd while the service cannot see it (it must apply once
    the fault clears); waits until a cut-off watch is noticed; returns what readiness says."""
    assert rig.etcd is not None
    rig.etcd.put(rig.etcd_prefix + LOAN_PERIOD, str(CHANGED_PERIOD))
    live = rig.app.live
    assert live is not None
    if fault != "latency":

        async def noticed() -> bool:
            return live.state == "down"

        await eventually(noticed, within=SETTLE_WITHIN, what="the lost etcd watch noticed")
    ready = await api.get("/health/ready")
    assert ready.status_code == 200, "etcd down must not take the process out of service"
    return str(ready.json()["checks"]["etcd"])


async def replica_state(api: httpx.AsyncClient) -> str:
    """What readiness says of the replica (`degraded`: reads go to the primary)."""
    ready = await api.get("/health/ready")
    assert ready.status_code == 200, "the replica must not take the process out of service"
    return str(ready.json()["checks"]["replica"])


async def replica_during_fault(api: httpx.AsyncClient, fault: str) -> None:
    """A replica cut off is seen as degraded; one that is only slow stays in use."""
    expected = "ok" if fault == "latency" else "degraded"

    async def seen() -> bool:
        return await replica_state(api) == expected

    await eventually(seen, within=SETTLE_WITHIN, what=f"readiness: the replica {expected}")


async def dead_letters(rig: Rig) -> int:
    """Events a consumer gave up on: their effect is missing until they are replayed."""
    assert rig.app.events.topology is not None
    letters = RabbitMQDeadLetters(amqp_url(), rig.app.events.topology)
    return sum([len(await letters.list(c.name)) for c in rig.app.events.consumers])


async def effects(rig: Rig) -> Effects:
    async with rig.direct.write.connect() as connection:
        events = await connection.execute(
            select(outbox.c.event_id).where(outbox.c.event_type.in_(CIRCULATION))
        )
        emails = await connection.execute(select(notifications.c.id))
        stored = await connection.execute(select(loans.c.id))
        return Effects(
            events={row[0] for row in events},
            applied=Counter(await rig.counting.effects()),
            emails={f"<{row[0]}@shelfmark>" for row in emails},
            received=Counter(str(mail.message["Message-ID"]) for mail in rig.smtp.received),
            loans_stored={str(row[0]) for row in stored},
        )


@pytest.mark.parametrize(("dependency", "fault"), CASES)
async def test_a_fault_costs_at_most_503s_and_loses_nothing(
    rig: Rig, dependency: str, fault: str
) -> None:
    proxy = rig.proxies[dependency]
    # Logs are captured, not rendered: the console renderer's tracebacks block the event loop.
    with capture_logs():
        async with served(rig.app, ["relay", "consume", "mail"]) as api:
            made = await pairs(api, PAIRS)

            async def pipeline_idle() -> bool:
                return await waiting(rig.direct) == Backlog()

            await eventually(pipeline_idle, within=SETTLE_WITHIN, what="the setup's events out")
            answers, backlog = Answers(), Backlog()
            watch = watch_backlog(rig.direct, backlog)
            await inject(proxy, fault, dependency)
            ends = time.monotonic() + FAULT_SECONDS

            def over() -> bool:
                return time.monotonic() > ends

            await asyncio.gather(*(desk(api, p, answers, until=over, loan=None) for p in made))
            watch.cancel()
            etcd_seen = await etcd_during_fault(rig, api, fault) if dependency == "etcd" else None
            if dependency == "replica":
                await replica_during_fault(api, fault)
            await proxy.heal()
            healed = time.monotonic()

            async def desk_works() -> bool:
                book = await api.post("/books", json={"title": "Probe", "author": "T", "copies": 1})
                return book.status_code == 201 and (
                    (await api.get(f"/books/{book.json()['id']}")).status_code == 200
                )

            recovery = await seconds_until(desk_works, within=SETTLE_WITHIN)
            answers.phase = "after"
            await asyncio.gather(*(desk(api, pair, answers, steps=AFTER_STEPS) for pair in made))

            # Judged as the look that found them settled saw them, not read once more: work
            # still going after the heal (a write abandoned at its deadline whose held data the
            # blackhole lets through, a consumer catching up after the outage) may add an event
            # or an e-mail just after that look, which a second read would count as lost before
            # it had its moment to be relayed or sent.
            outcome = await effects(rig)

            async def settled() -> bool:
                nonlocal outcome
                outcome = await effects(rig)
                policy_applied = dependency != "etcd" or loan_period(rig.app) == CHANGED_PERIOD
                replica_back = dependency != "replica" or await replica_state(api) == "ok"
                return policy_applied and replica_back and outcome.settled

            await seconds_until(settled, within=SETTLE_WITHIN)
            settled_in = time.monotonic() - healed

    dead = await dead_letters(rig)
    lost, doubled = outcome.lost(answers.loans_made) + dead, outcome.doubled
    figures.append(
        Figures(
            dependency,
            fault,
            len(answers.all),
            answers.statuses("during"),
            answers.statuses("after"),
            answers.p99_ms("during"),
            answers.p99_ms("after"),
            max(answers.slowest("during"), answers.slowest("after")),
            recovery,
            settled_in,
            len(outcome.events),
            len(outcome.emails),
            lost,
            dead,
            doubled,
        )
    )
    print(f"\n{figures[-1]}")

    unavailable = [a for a in answers.all if a.status == 503]
    allowed = {200, 201, 503} if dependency == "postgres" else {200, 201}
    assert set(answers.statuses("during")) <= allowed, "never a 500, never a 503 but the DB's"
    assert all(a.retry_after and "problem+json" in a.content_type for a in unavailable)
    assert answers.slowest("during") <= BUDGET + SLACK, "an answer came after the budget"
    if dependency == "postgres" and fault != "latency":
        assert answers.statuses("during", "write")[503] > 0, "writes should have had 503"
    if dependency == "rabbitmq" and fault != "latency":
        assert backlog.events > 0, "events should have waited in the outbox"
    if dependency == "smtp" and fault != "latency":
        assert backlog.emails > 0, "e-mails should have waited in the notifications table"
    assert recovery < SETTLE_WITHIN, "the desk did not recover by itself"
    assert set(answers.statuses("after")) <= {200, 201}, "not every answer fine after the fault"
    assert outcome.settled, "not every event applied and every e-mail received"
    assert doubled == 0
    assert dead == 0, "a consumer gave up on an event instead of waiting for the database"
    assert lost == 0
    if dependency == "etcd":
        expected = "ok" if fault == "latency" else "degraded"
        assert etcd_seen == expected, "readiness should tell whether etcd is reachable"
        assert loan_period(rig.app) == CHANGED_PERIOD, "the change made during the fault"
