"""Runs the event consumers from RabbitMQ (with the embedded bus they run inside the relay)."""

from __future__ import annotations

from shelfmark.bootstrap import Shelfmark
from shelfmark.seedwork.infrastructure.rabbitmq import RabbitMQConsumers


async def consume(app: Shelfmark) -> None:
    settings, events = app.settings, app.events
    if settings.broker_url is None or events.topology is None:
        raise RuntimeError("consumers run from RabbitMQ: set SHELFMARK_BROKER_URL")
    await RabbitMQConsumers(
        settings.broker_url.get_secret_value(),
        events.topology,
        events.consumers,
        prefetch=settings.consumer_prefetch,
        concurrency=max(1, settings.db_pool_size // 2),  # the other half serves requests
        attempts=settings.consumer_attempts,
        backoff_seconds=0.2,
    ).run()
