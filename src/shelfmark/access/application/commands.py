"""Account commands."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class CreateStaffUser:
    username: str
    role: str
    password: str
    actor: str = "system"


@dataclass(frozen=True)
class CreatePatronLogin:
    """A patron logs in with the e-mail and the password given at registration."""

    patron_id: UUID
    email: str
    password: str
    actor: str = "system"


@dataclass(frozen=True)
class DisableUser:
    username: str
    actor: str = "system"


@dataclass(frozen=True)
class ResetPassword:
    username: str
    password: str
    actor: str = "system"
