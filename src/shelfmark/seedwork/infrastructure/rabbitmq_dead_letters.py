"""Reading and replaying a consumer's RabbitMQ dead-letter queue (for `shelfmark dead-letters`)."""

from __future__ import annotations

import aio_pika

from shelfmark.seedwork.infrastructure.dead_letters import DeadLetter
from shelfmark.seedwork.infrastructure.envelopes import decode
from shelfmark.seedwork.infrastructure.rabbitmq import Topology, message_of


class RabbitMQDeadLetters:
    def __init__(self, url: str, topology: Topology) -> None:
        self._url = url
        self._topology = topology

    async def list(self, consumer: str) -> list[DeadLetter]:
        """Looks without taking: every message read is unacked and so stays in the queue."""
        connection = await aio_pika.connect(self._url)
        try:
            channel = await connection.channel()
            await self._topology.declare(channel)
            queue = await channel.get_queue(self._topology.dead_queue(consumer))
            letters = []
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                reason = str(message.headers.get("x-first-death-reason", "rejected"))
                letters.append(DeadLetter(consumer, decode(message.body), reason))
            return letters
        finally:
            await connection.close()

    async def replay(self, consumer: str) -> int:
        """Moves every dead letter back to the consumer's queue; the inbox keeps a replay of an
        event that did get applied from having a second effect."""
        connection = await aio_pika.connect(self._url)
        replayed = 0
        try:
            channel = await connection.channel(publisher_confirms=True)
            await self._topology.declare(channel)
            queue = await channel.get_queue(self._topology.dead_queue(consumer))
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                await channel.default_exchange.publish(
                    message_of(decode(message.body)), routing_key=self._topology.queue(consumer)
                )
                await message.ack()
                replayed += 1
        finally:
            await connection.close()
        return replayed
