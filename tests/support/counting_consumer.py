"""A consumer that counts: every delivery it gets (duplicates included) and every effect it
applies, an `effects` row written in the same transaction as its inbox row. The effects table
has no unique key on purpose: a second effect for one event would show as a second row."""

from __future__ import annotations

from collections import Counter
from uuid import UUID

from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.seedwork.infrastructure import inbox
from shelfmark.seedwork.messaging import Envelope

test_metadata = MetaData()
effects = Table(
    "test_effects",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False),
    Column("event_id", Uuid, nullable=False),
)


async def create_effects_table(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(test_metadata.create_all)


class CountingConsumer:
    def __init__(
        self, engine: AsyncEngine, event_types: frozenset[str], name: str = "counting"
    ) -> None:
        self._engine = engine
        self._name = name
        self._event_types = event_types
        self.deliveries: Counter[UUID] = Counter()
        self.fail_on: set[UUID] = set()

    @property
    def name(self) -> str:
        return self._name

    @property
    def event_types(self) -> frozenset[str]:
        return self._event_types

    async def handle(self, envelope: Envelope) -> None:
        self.deliveries[envelope.event_id] += 1
        if envelope.event_id in self.fail_on:
            raise RuntimeError(f"told to fail on {envelope.event_id}")
        async with self._engine.begin() as connection:
            at = envelope.occurred_at
            if not await inbox.first_delivery(connection, self._name, envelope.event_id, at):
                return
            await connection.execute(
                effects.insert().values(consumer=self._name, event_id=envelope.event_id)
            )

    async def effects(self) -> Counter[UUID]:
        """Effects applied, per event id (each should be 1)."""
        query = (
            select(effects.c.event_id, func.count())
            .where(effects.c.consumer == self._name)
            .group_by(effects.c.event_id)
        )
        async with self._engine.connect() as connection:
            return Counter({row[0]: row[1] for row in (await connection.execute(query)).all()})
