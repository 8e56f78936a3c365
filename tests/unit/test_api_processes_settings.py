"""Several API processes with the in-process cache only where its follower holds: SQLite
with the in-process bus; elsewhere a shared Redis cache is asked for."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shelfmark.config import Settings

PG = "postgresql+asyncpg://shelfmark@127.0.0.1/shelfmark"


def test_several_processes_on_sqlite_with_the_in_process_bus_are_accepted() -> None:
    assert Settings(database_url="sqlite:///x.db", api_processes=2).api_processes == 2


@pytest.mark.parametrize(
    "settings",
    [{"database_url": PG}, {"database_url": "sqlite:///x.db", "broker_url": "amqp://x/"}],
)
def test_elsewhere_they_need_a_shared_cache(settings: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="set cache_url"):
        Settings(api_processes=2, **settings)
    shared = Settings(api_processes=2, cache_url="redis://127.0.0.1:6379/0", **settings)
    assert shared.api_processes == 2
