"""The machine's Redis for read-cache tests: each test gets a private key prefix, and its keys
(only those) are deleted afterwards. With CI=true a missing Redis fails the run."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.support.databases import service_missing

REDIS_HOST = os.environ.get("SHELFMARK_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("SHELFMARK_TEST_REDIS_PORT", "6379"))
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@asynccontextmanager
async def private_prefix() -> AsyncIterator[str]:
    """A key prefix no other test run uses; its keys are deleted on the way out."""
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        service_missing(f"Redis at {REDIS_HOST}:{REDIS_PORT}", error)
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def keys_under(prefix: str) -> list[str]:
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return sorted([key async for key in client.scan_iter(match=f"{prefix}:*")])
    finally:
        await client.aclose()
