"""What the patron use cases need from the outside."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from shelfmark.patrons.application.queries import PatronFilter, PatronView
from shelfmark.patrons.domain.model import Patron
from shelfmark.patrons.domain.values import Email
from shelfmark.seedwork.application import UnitOfWork
from shelfmark.seedwork.pagination import Page, PageRequest


class PatronRepository(Protocol):
    async def get(self, patron_id: UUID) -> Patron | None: ...

    def add(self, patron: Patron) -> None: ...

    async def email_taken(self, email: Email) -> bool: ...


class PatronsUnitOfWork(UnitOfWork, Protocol):
    @property
    def patrons(self) -> PatronRepository: ...


class PatronReader(Protocol):
    async def get(self, patron_id: UUID) -> PatronView | None: ...

    async def id_by_email(self, email: str) -> UUID | None: ...

    async def list(self, filters: PatronFilter, page: PageRequest) -> Page[PatronView]: ...
