"""What lending does when another context's event arrives (its consumer, named `lending`)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from shelfmark.lending.application.circulation import offer_new_copy
from shelfmark.lending.application.ports import LendingUnitOfWork
from shelfmark.lending.domain.policies import LendingPolicy
from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.messaging import Envelope


class LendingReactions:
    """The catalog's `CopyAdded`: the new copy is kept at once for the first waiting hold it
    may fill, instead of sitting on the shelf until the next return or hold placement."""

    name = "lending"
    event_types = frozenset({"CopyAdded"})

    def __init__(
        self, uow: Callable[[], LendingUnitOfWork], clock: Clock, policy: LendingPolicy
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy

    async def handle(self, envelope: Envelope) -> None:
        async with self._uow() as uow:
            now = self._clock.now()
            if not await uow.inbox.first_delivery(self.name, envelope.event_id, now):
                return
            await offer_new_copy(
                uow,
                envelope.aggregate_id,
                UUID(envelope.payload["copy_id"]),
                self._policy,
                now,
                str(envelope.payload["actor"]),
            )
            await uow.commit()
