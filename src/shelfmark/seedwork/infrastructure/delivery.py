"""Handing one envelope to one consumer, with bounded retries; shared by both transports."""

from __future__ import annotations

import structlog
from tenacity import AsyncRetrying, stop_after_attempt, wait_random_exponential

from shelfmark.seedwork.messaging import DeadLetterFailed, Envelope, EventConsumer

log = structlog.get_logger("shelfmark.consumers")


async def deliver(
    consumer: EventConsumer, envelope: Envelope, *, attempts: int, backoff_seconds: float
) -> None:
    """Runs the consumer up to `attempts` times with jittered backoff; then DeadLetterFailed.
    The consumer is idempotent, so a retry after a failure that did commit is harmless."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=backoff_seconds, max=backoff_seconds * 20),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                await consumer.handle(envelope)
    except Exception as error:
        log.warning(
            "event dead-lettered",
            consumer=consumer.name,
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            error=repr(error),
        )
        raise DeadLetterFailed(repr(error)) from error
