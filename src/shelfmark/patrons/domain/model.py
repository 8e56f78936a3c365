"""The Patron aggregate: who may borrow, in which category, until when."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import NewType

from shelfmark.patrons.domain.errors import AlreadySuspended, NotAnUpgrade, NotSuspended
from shelfmark.patrons.domain.events import (
    MembershipRenewed,
    PatronCategoryChanged,
    PatronRegistered,
    PatronReinstated,
    PatronSuspended,
)
from shelfmark.patrons.domain.values import Email, PatronCategory
from shelfmark.seedwork.domain import AggregateRoot, InvalidValue
from shelfmark.seedwork.text import collapsed_text

PatronId = NewType("PatronId", uuid.UUID)

MAX_NAME = 100
MAX_SUSPENSION_REASON = 500


@dataclass(frozen=True)
class Membership:
    """How long a card is valid, counted in the library's time zone."""

    years: int
    timezone: tzinfo

    def today(self, now: datetime) -> date:
        return now.astimezone(self.timezone).date()

    def extended(self, from_date: date) -> date:
        try:
            return from_date.replace(year=from_date.year + self.years)
        except ValueError:  # 29 February into a common year
            return from_date.replace(year=from_date.year + self.years, day=28)


class Patron(AggregateRoot):
    id: PatronId

    def __init__(
        self,
        id: PatronId,
        first_name: str,
        last_name: str,
        email: Email,
        category: PatronCategory,
        card_expires_on: date,
        suspended_reason: str | None,
        registered_at: datetime,
    ) -> None:
        super().__init__()
        self.id = id
        self.first_name = first_name
        self.last_name = last_name
        self.email = email
        self.category = category
        self.card_expires_on = card_expires_on
        self.suspended_reason = suspended_reason
        self.registered_at = registered_at

    @property
    def is_suspended(self) -> bool:
        return self.suspended_reason is not None

    @classmethod
    def register(
        cls,
        *,
        first_name: str,
        last_name: str,
        email: Email,
        category: PatronCategory,
        membership: Membership,
        now: datetime,
        actor: str,
    ) -> Patron:
        patron = cls(
            PatronId(uuid.uuid4()),
            collapsed_text(first_name, "first_name", MAX_NAME),
            collapsed_text(last_name, "last_name", MAX_NAME),
            email,
            category,
            membership.extended(membership.today(now)),
            None,
            now,
        )
        patron.record(
            PatronRegistered(
                aggregate_id=patron.id,
                occurred_at=now,
                actor=actor,
                first_name=patron.first_name,
                last_name=patron.last_name,
                email=email.value,
                category=category.value,
                card_expires_on=patron.card_expires_on,
            )
        )
        return patron

    def suspend(self, reason: str, now: datetime, actor: str) -> None:
        """A suspended patron may only return books and pay."""
        if self.is_suspended:
            raise AlreadySuspended("the patron is already suspended")
        self.suspended_reason = collapsed_text(reason, "reason", MAX_SUSPENSION_REASON)
        self.record(
            PatronSuspended(
                aggregate_id=self.id, occurred_at=now, actor=actor, reason=self.suspended_reason
            )
        )

    def reinstate(self, now: datetime, actor: str) -> None:
        if not self.is_suspended:
            raise NotSuspended("the patron is not suspended")
        self.suspended_reason = None
        self.record(PatronReinstated(aggregate_id=self.id, occurred_at=now, actor=actor))

    def upgrade(self, category: PatronCategory, now: datetime, actor: str) -> None:
        """Categories only go up: regular < premium < researcher."""
        if category.rank <= self.category.rank:
            raise NotAnUpgrade(f"{self.category.value} cannot change to {category.value}")
        previous, self.category = self.category, category
        self.record(
            PatronCategoryChanged(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                previous=previous.value,
                category=category.value,
            )
        )

    def renew_membership(self, membership: Membership, now: datetime, actor: str) -> None:
        """Extends the card from its expiry, or from today when it has already expired."""
        self.card_expires_on = membership.extended(max(self.card_expires_on, membership.today(now)))
        self.record(
            MembershipRenewed(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                card_expires_on=self.card_expires_on,
            )
        )


def parse_category(raw: str) -> PatronCategory:
    try:
        return PatronCategory(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(c.value for c in PatronCategory)
        raise InvalidValue("category", f"category is one of {allowed}") from None
