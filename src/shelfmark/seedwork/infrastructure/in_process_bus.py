"""The embedded mode's transport: the relay hands each event straight to the consumers.

An event counts as delivered only once every consumer that wants it has applied it (or, after
its retries, dead-lettered it), so the relay marks a row published exactly when the broker
would have confirmed it: the same at-least-once semantics as RabbitMQ.
"""

from __future__ import annotations

from collections.abc import Sequence

from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.infrastructure.dead_letters import SqlDeadLetters
from shelfmark.seedwork.infrastructure.delivery import deliver
from shelfmark.seedwork.infrastructure.giving_way import give_way, in_steps
from shelfmark.seedwork.messaging import DeadLetterFailed, Envelope, EventConsumer


class InProcessBus:
    def __init__(
        self,
        consumers: Sequence[EventConsumer],
        dead_letters: SqlDeadLetters,
        clock: Clock,
        *,
        attempts: int = 3,
        backoff_seconds: float = 0.1,
    ) -> None:
        self._consumers = consumers
        self._dead_letters = dead_letters
        self._clock = clock
        self._attempts = attempts
        self._backoff = backoff_seconds

    async def publish(self, envelopes: Sequence[Envelope]) -> int:
        with in_steps():  # a share of the loop as the requests in flight have (giving_way.py)
            for envelope in envelopes:
                await give_way()
                for consumer in self._consumers:
                    if envelope.event_type in consumer.event_types:
                        await self.deliver(consumer, envelope)
        return len(envelopes)

    async def deliver(self, consumer: EventConsumer, envelope: Envelope) -> None:
        try:
            await deliver(
                consumer, envelope, attempts=self._attempts, backoff_seconds=self._backoff
            )
        except DeadLetterFailed as failure:
            await self._dead_letters.add(consumer.name, envelope, str(failure), self._clock.now())
