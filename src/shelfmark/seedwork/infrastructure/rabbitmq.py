"""RabbitMQ as the transport: a topic exchange, a durable queue per consumer with a dead-letter
queue beside it, a publisher that counts an event delivered only once the broker confirmed it,
and a consumer runner that acks only after the consumer's effect committed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
)

from shelfmark.seedwork.infrastructure.breaker import CircuitBreaker
from shelfmark.seedwork.infrastructure.delivery import deliver
from shelfmark.seedwork.infrastructure.dependency import call_dependency
from shelfmark.seedwork.infrastructure.envelopes import decode, encode
from shelfmark.seedwork.messaging import DeadLetterFailed, Envelope, EventConsumer

log = structlog.get_logger("shelfmark.rabbitmq")


@dataclass(frozen=True)
class Topology:
    """Names under one prefix; every consumer's queue is declared before anything is
    published, so an event is never dropped for want of a queue."""

    prefix: str
    subscriptions: Mapping[str, frozenset[str]]

    @property
    def exchange(self) -> str:
        return f"{self.prefix}.events"

    @property
    def dead_exchange(self) -> str:
        return f"{self.prefix}.dead"

    def queue(self, consumer: str) -> str:
        return f"{self.prefix}.{consumer}"

    def dead_queue(self, consumer: str) -> str:
        return f"{self.queue(consumer)}.dead"

    async def declare(self, channel: AbstractChannel) -> AbstractExchange:
        exchange = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        dead = await channel.declare_exchange(
            self.dead_exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        for consumer, event_types in self.subscriptions.items():
            dead_queue = await channel.declare_queue(self.dead_queue(consumer), durable=True)
            await dead_queue.bind(dead, routing_key=consumer)
            queue = await channel.declare_queue(
                self.queue(consumer),
                durable=True,
                arguments={
                    "x-dead-letter-exchange": self.dead_exchange,
                    "x-dead-letter-routing-key": consumer,
                },
            )
            for event_type in sorted(event_types):
                await queue.bind(exchange, routing_key=event_type)
        return exchange


def message_of(envelope: Envelope) -> aio_pika.Message:
    return aio_pika.Message(
        encode(envelope),
        message_id=str(envelope.event_id),
        type=envelope.event_type,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


class RabbitMQPublisher:
    """Publishes a batch on a confirming channel; the delivered count is the longest prefix the
    broker confirmed, so a failure part-way never lets a later event overtake an earlier one."""

    def __init__(
        self, url: str, topology: Topology, breaker: CircuitBreaker, *, timeout: float
    ) -> None:
        self._url = url
        self._topology = topology
        self._breaker = breaker
        self._timeout = timeout
        self._connection: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None

    async def publish(self, envelopes: Sequence[Envelope]) -> int:
        return await call_dependency(
            self._breaker,
            lambda: self._publish(envelopes),
            timeout=self._timeout,
            attempts=2,
            retry_on=(Exception,),
        )

    async def _publish(self, envelopes: Sequence[Envelope]) -> int:
        try:
            exchange = await self._connected()
            results = await asyncio.gather(
                *(exchange.publish(message_of(e), routing_key=e.event_type) for e in envelopes),
                return_exceptions=True,
            )
        except BaseException:
            await self.close()
            raise
        delivered = 0
        for result in results:
            if isinstance(result, BaseException):
                await self.close()
                if delivered == 0:
                    raise result
                break
            delivered += 1
        return delivered

    async def _connected(self) -> AbstractExchange:
        if self._connection is None or self._connection.is_closed or self._exchange is None:
            self._connection = await aio_pika.connect(self._url, timeout=self._timeout)
            channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await self._topology.declare(channel)
        return self._exchange

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None and not connection.is_closed:
            try:
                await connection.close()
            except Exception:  # closing a broken connection may fail; it is gone either way
                log.debug("closing a broken broker connection failed")


class RabbitMQConsumers:
    """Runs each consumer on its own durable queue: manual ack after the effect committed; a
    consumer that keeps failing on a message rejects it to its dead-letter queue.

    `prefetch` messages per consumer may be in flight, but at most `concurrency` of them, over
    all consumers, are being applied at once: each takes a database connection, and a backlog
    (after a broker outage) must not take every connection of the process's pool."""

    def __init__(
        self,
        url: str,
        topology: Topology,
        consumers: Sequence[EventConsumer],
        *,
        prefetch: int,
        concurrency: int,
        attempts: int,
        backoff_seconds: float,
    ) -> None:
        self._url = url
        self._topology = topology
        self._consumers = consumers
        self._prefetch = prefetch
        self._applying = asyncio.Semaphore(concurrency)
        self._attempts = attempts
        self._backoff = backoff_seconds

    async def run(self) -> None:
        """Consumes until cancelled; the robust connection reconnects and resumes by itself."""
        connection = await aio_pika.connect_robust(self._url)
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch)
            await self._topology.declare(channel)
            for consumer in self._consumers:
                queue = await channel.get_queue(self._topology.queue(consumer.name))
                await queue.consume(self._handler(consumer))
            await asyncio.Future()
        finally:
            await connection.close()

    def _handler(
        self, consumer: EventConsumer
    ) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def on_message(message: AbstractIncomingMessage) -> None:
            try:
                envelope = decode(message.body)
            except (ValueError, KeyError, TypeError):
                log.warning("undecodable message dead-lettered", consumer=consumer.name)
                await message.reject(requeue=False)
                return
            try:
                async with self._applying:
                    await deliver(
                        consumer, envelope, attempts=self._attempts, backoff_seconds=self._backoff
                    )
            except DeadLetterFailed:
                await message.reject(requeue=False)
                return
            await message.ack()

        return on_message
