"""Account handlers: create, disable, reset, and check a password."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from shelfmark.access.application.commands import (
    CreatePatronLogin,
    CreateStaffUser,
    DisableUser,
    ResetPassword,
)
from shelfmark.access.application.ports import AccessUnitOfWork, PasswordHasher
from shelfmark.access.domain.model import (
    Account,
    AccountId,
    Role,
    UsernameTaken,
    check_password,
    staff_username,
)
from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.domain import InvalidValue, NotFound

#: Verified against when the username is unknown, so a miss costs as much as a wrong password.
_NOBODY = (
    "$argon2id$v=19$m=65536,t=3,p=4$hHwrlibZDAb/zflMlE1/1Q$VG2fZG"
    "ocJU/lHuywIKXjIUP3RTbmIS1bCUqsYLWwRbQ"
)


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"


@dataclass(frozen=True)
class Principal:
    """Who a verified login is."""

    account_id: UUID
    username: str
    role: Role
    patron_id: UUID | None


def _role(raw: str) -> Role:
    try:
        role = Role(raw)
    except ValueError:
        raise InvalidValue("role", "a staff role is librarian or admin") from None
    if not role.is_staff:
        raise InvalidValue("role", "a staff role is librarian or admin")
    return role


async def _open(uow: AccessUnitOfWork, account: Account, username: str) -> AccountId:
    if await uow.accounts.by_username(username) is not None:
        raise UsernameTaken(f"{username} already has an account")
    uow.accounts.add(account)
    await uow.commit()
    return account.id


async def create_staff_user(
    command: CreateStaffUser, uow: AccessUnitOfWork, clock: Clock, hasher: PasswordHasher
) -> AccountId:
    username, role = staff_username(command.username), _role(command.role)
    password_hash = hasher.hash(check_password(command.password))
    async with uow:
        account = Account.open(
            username=username,
            role=role,
            password_hash=password_hash,
            patron_id=None,
            now=clock.now(),
            actor=command.actor,
        )
        return await _open(uow, account, username)


async def create_patron_login(
    command: CreatePatronLogin, uow: AccessUnitOfWork, clock: Clock, hasher: PasswordHasher
) -> AccountId:
    username = command.email.strip().lower()
    password_hash = hasher.hash(check_password(command.password))
    async with uow:
        account = Account.open(
            username=username,
            role=Role.PATRON,
            password_hash=password_hash,
            patron_id=command.patron_id,
            now=clock.now(),
            actor=command.actor,
        )
        return await _open(uow, account, username)


async def _named(uow: AccessUnitOfWork, username: str) -> Account:
    account = await uow.accounts.by_username(username.strip().lower())
    if account is None:
        raise UserNotFound(f"no user {username}")
    return account


async def disable_user(command: DisableUser, uow: AccessUnitOfWork, clock: Clock) -> None:
    async with uow:
        (await _named(uow, command.username)).disable(clock.now(), command.actor)
        await uow.commit()


async def reset_password(
    command: ResetPassword, uow: AccessUnitOfWork, clock: Clock, hasher: PasswordHasher
) -> None:
    password_hash = hasher.hash(check_password(command.password))
    async with uow:
        account = await _named(uow, command.username)
        account.reset_password(password_hash, clock.now(), command.actor)
        await uow.commit()


async def authenticate(
    username: str, password: str, uow: AccessUnitOfWork, hasher: PasswordHasher
) -> Principal | None:
    """The principal for a right password of an enabled account; None for anything else."""
    async with uow:
        account = await uow.accounts.by_username(username.strip().lower())
    if account is None:
        hasher.verify(_NOBODY, password)
        return None
    if not hasher.verify(account.password_hash, password) or account.disabled:
        return None
    return Principal(account.id, account.username, account.role, account.patron_id)


async def principal_of(account_id: UUID, uow: AccessUnitOfWork) -> Principal | None:
    async with uow:
        account = await uow.accounts.get(account_id)
    if account is None or account.disabled:
        return None
    return Principal(account.id, account.username, account.role, account.patron_id)
