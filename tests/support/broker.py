"""The machine's real RabbitMQ, under a private name prefix per test so runs never share a
queue; everything a test declared is deleted afterwards."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aio_pika

from tests.support.databases import service_missing

RABBITMQ_HOST = os.environ.get("SHELFMARK_TEST_AMQP_HOST", "127.0.0.1")
RABBITMQ_PORT = int(os.environ.get("SHELFMARK_TEST_AMQP_PORT", "5672"))


def amqp_url(port: int = RABBITMQ_PORT) -> str:
    return f"amqp://guest:guest@{RABBITMQ_HOST}:{port}/"


async def require_rabbitmq() -> None:
    try:
        connection = await aio_pika.connect(amqp_url(), timeout=5)
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as error:
        service_missing(f"RabbitMQ at {RABBITMQ_HOST}:{RABBITMQ_PORT}", error)
    await connection.close()


@asynccontextmanager
async def private_prefix() -> AsyncIterator[str]:
    """A prefix no other run uses; its exchanges and queues are deleted at the end."""
    await require_rabbitmq()
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    try:
        yield prefix
    finally:
        await delete_everything_under(prefix)


async def delete_everything_under(prefix: str, consumers: tuple[str, ...] = ()) -> None:
    connection = await aio_pika.connect(amqp_url(), timeout=5)
    try:
        channel = await connection.channel()
        for name in _known_queues(prefix, consumers):
            await channel.queue_delete(name)
        for exchange in (f"{prefix}.events", f"{prefix}.dead"):
            await channel.exchange_delete(exchange)
    finally:
        await connection.close()


KNOWN_CONSUMERS = ("notifications", "lending", "counting")


def _known_queues(prefix: str, consumers: tuple[str, ...]) -> list[str]:
    names = []
    for consumer in (*KNOWN_CONSUMERS, *consumers):
        names += [f"{prefix}.{consumer}", f"{prefix}.{consumer}.dead"]
    return names


async def eventually(condition: Callable[[], Awaitable[bool]], *, within: float, what: str) -> None:
    """Polls until the condition holds; fails after `within` seconds (a bound, not a timing
    assertion)."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)
