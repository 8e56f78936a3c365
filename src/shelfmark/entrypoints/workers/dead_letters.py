"""Listing and replaying dead letters: events a consumer failed on every time it was tried.

With RabbitMQ they wait in `<prefix>.<consumer>.dead`; with the embedded bus in the
`dead_letters` table. A replay hands them back to the consumer; its inbox keeps one that did
get applied from having a second effect.
"""

from __future__ import annotations

from shelfmark.bootstrap import Shelfmark
from shelfmark.seedwork.infrastructure.dead_letters import DeadLetter
from shelfmark.seedwork.infrastructure.rabbitmq_dead_letters import RabbitMQDeadLetters
from shelfmark.seedwork.messaging import EventConsumer


def _consumers(app: Shelfmark, name: str | None) -> list[EventConsumer]:
    chosen = [c for c in app.events.consumers if name is None or c.name == name]
    if not chosen:
        known = ", ".join(c.name for c in app.events.consumers)
        raise ValueError(f"no consumer named {name!r} (known: {known})")
    return chosen


def _rabbitmq(app: Shelfmark) -> RabbitMQDeadLetters | None:
    url, topology = app.settings.broker_url, app.events.topology
    if url is None or topology is None:
        return None
    return RabbitMQDeadLetters(url.get_secret_value(), topology)


async def list_dead_letters(app: Shelfmark, consumer: str | None) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    broker = _rabbitmq(app)
    for chosen in _consumers(app, consumer):
        if broker is not None:
            letters += await broker.list(chosen.name)
        else:
            letters += await app.events.dead_letters.list(chosen.name)
    return letters


async def replay_dead_letters(app: Shelfmark, consumer: str | None) -> int:
    broker = _rabbitmq(app)
    replayed = 0
    for chosen in _consumers(app, consumer):
        if broker is not None:
            replayed += await broker.replay(chosen.name)
            continue
        for letter in await app.events.dead_letters.list(chosen.name):
            await chosen.handle(letter.envelope)
            await app.events.dead_letters.remove(chosen.name, letter.envelope.event_id)
            replayed += 1
    return replayed
