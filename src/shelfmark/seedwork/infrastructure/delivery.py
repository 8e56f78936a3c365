"""Handing one envelope to one consumer, with bounded retries; shared by both transports."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from tenacity import AsyncRetrying, RetryCallState, wait_random_exponential

from shelfmark.seedwork.infrastructure.outages import is_outage
from shelfmark.seedwork.messaging import DeadLetterFailed, Envelope, EventConsumer

log = structlog.get_logger("shelfmark.consumers")


async def deliver(
    consumer: EventConsumer, envelope: Envelope, *, attempts: int, backoff_seconds: float
) -> None:
    """Runs the consumer up to `attempts` times with jittered backoff; then DeadLetterFailed.
    A failure that is an outage (the database down, see `outages.py`) does not count: the
    consumer waits for the dependency as long as it takes, keeping the event in flight, since
    dead-lettering it would lose its effect until someone replays it by hand. The consumer is
    idempotent, so a retry after a failure that did commit is harmless."""
    retrying = AsyncRetrying(
        stop=_gives_up_after(attempts),
        wait=wait_random_exponential(multiplier=backoff_seconds, max=backoff_seconds * 20),
        before_sleep=_note_outage(consumer, envelope),
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


def _gives_up_after(attempts: int) -> Callable[[RetryCallState], bool]:
    def stop(state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome is not None else None
        return state.attempt_number >= attempts and not (error is not None and is_outage(error))

    return stop


def _note_outage(consumer: EventConsumer, envelope: Envelope) -> Callable[[RetryCallState], None]:
    def note(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        if error is not None and is_outage(error) and state.attempt_number % 10 == 1:
            log.warning(
                "consumer waits for an outage to end",
                consumer=consumer.name,
                event_id=str(envelope.event_id),
                attempts=state.attempt_number,
                error=repr(error),
            )

    return note
