"""Letting events reach their consumers in tests that do not run the relay's loop."""

from __future__ import annotations

from shelfmark.bootstrap import Shelfmark


async def settle(shelfmark: Shelfmark) -> None:
    """Relays the outbox until it is empty: the read side has then seen every write."""
    while await shelfmark.events.relay.relay_once(shelfmark.clock.now()):
        pass
