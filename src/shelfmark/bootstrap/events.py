"""Wires the event pipeline from settings: the consumers, the transport (in-process bus or
RabbitMQ), the outbox relay, the dead letters and the guarded mailer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shelfmark.bootstrap.cache import CacheInvalidation
from shelfmark.bootstrap.notifications import ClosableMailer, mailer, patron_notifier
from shelfmark.config import Settings
from shelfmark.lending.application.reactions import LendingReactions
from shelfmark.lending.infrastructure.unit_of_work import SqlAlchemyLendingUnitOfWork
from shelfmark.notifications.application.ports import MailRejected
from shelfmark.notifications.infrastructure.guarded_mailer import GuardedMailer
from shelfmark.notifications.infrastructure.repository import SqlNotificationQueue
from shelfmark.search.application.projection import BookIndexProjection
from shelfmark.search.infrastructure.index import SqlSearchUnitOfWork
from shelfmark.seedwork.infrastructure.breaker import BreakerConfig, BreakerRegistry
from shelfmark.seedwork.infrastructure.dead_letters import SqlDeadLetters
from shelfmark.seedwork.infrastructure.in_process_bus import InProcessBus
from shelfmark.seedwork.infrastructure.rabbitmq import RabbitMQPublisher, Topology
from shelfmark.seedwork.infrastructure.relay import OutboxRelay
from shelfmark.seedwork.messaging import EventConsumer, EventPublisher

if TYPE_CHECKING:
    from shelfmark.bootstrap.container import Shelfmark


@dataclass
class EventPipeline:
    consumers: tuple[EventConsumer, ...]
    publisher: EventPublisher
    relay: OutboxRelay
    dead_letters: SqlDeadLetters
    notifications: SqlNotificationQueue
    mailer: GuardedMailer
    topology: Topology | None
    #: Set after a command commits, so the relay in this process looks at once.
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    _closables: list[Any] = field(default_factory=list)

    async def close(self) -> None:
        for closable in self._closables:
            await closable()


def breaker_config(settings: Settings) -> BreakerConfig:
    return BreakerConfig(
        window=settings.breaker_window,
        window_size=settings.breaker_window_size,
        minimum_calls=settings.breaker_minimum_calls,
        failure_rate_threshold=settings.breaker_failure_rate,
        slow_call_seconds=settings.breaker_slow_call_seconds,
        open_seconds=settings.breaker_open_seconds,
    )


def search_projection(app: Shelfmark) -> BookIndexProjection:
    engine = app.engines.write
    return BookIndexProjection(
        lambda: SqlSearchUnitOfWork(engine, app.clock),
        app.clock,
        on_applied=app.metrics.projection_lag.set,
    )


def lending_reactions(app: Shelfmark) -> LendingReactions:
    engine, forget = app.engines.write, CacheInvalidation(app.cache).after_commit
    return LendingReactions(
        lambda: SqlAlchemyLendingUnitOfWork(engine, after_commit=forget), app.clock, app.policy
    )


def event_pipeline(
    app: Shelfmark, breakers: BreakerRegistry, extra_consumers: Sequence[EventConsumer] = ()
) -> EventPipeline:
    settings, engines = app.settings, app.engines
    consumers: tuple[EventConsumer, ...] = (
        patron_notifier(app),
        lending_reactions(app),
        search_projection(app),
        CacheInvalidation(app.cache),  # after the index, so a reload finds it up to date
        *extra_consumers,
    )
    dead_letters = SqlDeadLetters(engines.write)
    topology = None
    publisher: EventPublisher
    closables = []
    if settings.broker_url is None:
        publisher = InProcessBus(
            consumers, dead_letters, app.clock, attempts=settings.consumer_attempts
        )
    else:
        topology = Topology(settings.broker_prefix, {c.name: c.event_types for c in consumers})
        rabbit = RabbitMQPublisher(
            settings.broker_url.get_secret_value(),
            topology,
            breakers.get("broker.publish", breaker_config(settings)),
            timeout=settings.broker_timeout_seconds,
        )
        closables.append(rabbit.close)
        publisher = rabbit
    transport: ClosableMailer = mailer(settings)
    closables.append(transport.aclose)
    guarded = GuardedMailer(
        transport,
        breakers.get(
            f"mail.{settings.mail_adapter}", breaker_config(settings), ignore=(MailRejected,)
        ),
        timeout=settings.mail_timeout_seconds,
    )
    relay = OutboxRelay(
        engines.write,
        engines.read,
        publisher,
        lock_rows=engines.write.dialect.name == "postgresql",
        batch_size=settings.relay_batch_size,
    )
    return EventPipeline(
        consumers=consumers,
        publisher=publisher,
        relay=relay,
        dead_letters=dead_letters,
        notifications=SqlNotificationQueue(engines.write),
        mailer=guarded,
        topology=topology,
        _closables=closables,
    )
