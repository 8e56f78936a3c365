"""The Patron repository over SQLAlchemy Core."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, exists, select

from shelfmark.patrons.domain.model import Patron, PatronId
from shelfmark.patrons.domain.values import Email, PatronCategory
from shelfmark.patrons.infrastructure.orm import patrons
from shelfmark.seedwork.infrastructure.unit_of_work import SqlRepository

#: Built once, the address given as a parameter (see `unit_of_work._versioned_update`).
_EMAIL_TAKEN = select(exists().where(patrons.c.email == bindparam("email")))


class SqlAlchemyPatronRepository(SqlRepository[Patron]):
    async def get(self, patron_id: UUID) -> Patron | None:
        if patron_id in self._seen:
            return self._seen[patron_id]
        row = (
            await self.connection.execute(select(patrons).where(patrons.c.id == patron_id))
        ).first()
        if row is None:
            return None
        patron = Patron(
            PatronId(row.id),
            row.first_name,
            row.last_name,
            Email(row.email),
            PatronCategory(row.category),
            row.card_expires_on,
            row.suspended_reason,
            row.registered_at,
        )
        patron.version = row.version
        return self._track(patron)

    def add(self, patron: Patron) -> None:
        self._track(patron, new=True)

    async def email_taken(self, email: Email) -> bool:
        return bool(await self.connection.scalar(_EMAIL_TAKEN, {"email": email.value}))

    async def _insert(self, patron: Patron) -> None:
        await self._insert_row(
            patrons,
            id=patron.id,
            email=patron.email.value,
            registered_at=patron.registered_at,
            version=patron.version + 1,
            **_mutable(patron),
        )

    async def _update(self, patron: Patron) -> None:
        await self._update_versioned(patrons, patrons.c.id, patron, _mutable(patron))


def _mutable(patron: Patron) -> dict[str, Any]:
    return {
        "first_name": patron.first_name,
        "last_name": patron.last_name,
        "category": patron.category.value,
        "card_expires_on": patron.card_expires_on,
        "suspended_reason": patron.suspended_reason,
    }
