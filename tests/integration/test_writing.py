"""`writing(engine)`, the transaction of the statements that need no unit of work: committed at
the end of the block, rolled back when the block raises, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.idempotency import idempotency_keys
from shelfmark.seedwork.infrastructure.transaction import writing

NOW = datetime(2026, 11, 30, tzinfo=UTC)


async def keys(engines: Engines) -> set[str]:
    async with engines.read.connect() as connection:
        return set((await connection.scalars(select(idempotency_keys.c.key))).all())


async def test_a_block_that_ends_is_committed(engines: Engines) -> None:
    async with writing(engines.write) as connection:
        await connection.execute(
            idempotency_keys.insert().values(key="kept", fingerprint="f", created_at=NOW)
        )

    assert await keys(engines) == {"kept"}


async def insert_then_fail(engines: Engines) -> None:
    async with writing(engines.write) as connection:
        await connection.execute(
            idempotency_keys.insert().values(key="dropped", fingerprint="f", created_at=NOW)
        )
        raise RuntimeError("the block failed")


async def test_a_block_that_raises_is_rolled_back(engines: Engines) -> None:
    with pytest.raises(RuntimeError):
        await insert_then_fail(engines)

    assert await keys(engines) == set()
    assert engines.write.pool.checkedout() == 0  # type: ignore[attr-defined]
