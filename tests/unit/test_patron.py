from datetime import UTC, date, datetime

import pytest

from shelfmark.patrons.domain.errors import AlreadySuspended, NotAnUpgrade, NotSuspended
from shelfmark.patrons.domain.model import Membership, Patron, parse_category
from shelfmark.patrons.domain.values import Email, PatronCategory
from shelfmark.seedwork.domain import InvalidValue
from tests.support.clock import MONDAY

MEMBERSHIP = Membership(3, UTC)


def register(category: PatronCategory = PatronCategory.REGULAR) -> Patron:
    return Patron.register(
        first_name=" Ada ",
        last_name="Lovelace",
        email=Email.parse(" Ada@Example.ORG "),
        category=category,
        membership=MEMBERSHIP,
        now=MONDAY,
        actor="desk",
    )


def test_registration_normalises_and_sets_card_expiry_three_years_on() -> None:
    patron = register()
    assert patron.first_name == "Ada"
    assert patron.email.value == "ada@example.org"
    assert patron.card_expires_on == date(2029, 3, 2)
    assert [e.name for e in patron.pending_events] == ["PatronRegistered"]


@pytest.mark.parametrize(
    "raw", ["no-at-sign", "a@b", "a b@example.org", "@example.org", "x" * 250 + "@e.org"]
)
def test_bad_email_names_the_field(raw: str) -> None:
    with pytest.raises(InvalidValue) as error:
        Email.parse(raw)
    assert error.value.field == "email"


def test_names_are_1_to_100_characters() -> None:
    with pytest.raises(InvalidValue):
        Patron.register(
            first_name="x" * 101,
            last_name="L",
            email=Email("a@example.org"),
            category=PatronCategory.REGULAR,
            membership=MEMBERSHIP,
            now=MONDAY,
            actor="desk",
        )


def test_suspend_and_reinstate() -> None:
    patron = register()
    patron.suspend("  lost   three books ", MONDAY, "desk")
    assert patron.is_suspended and patron.suspended_reason == "lost three books"
    with pytest.raises(AlreadySuspended):
        patron.suspend("again", MONDAY, "desk")
    patron.reinstate(MONDAY, "desk")
    assert not patron.is_suspended
    with pytest.raises(NotSuspended):
        patron.reinstate(MONDAY, "desk")


def test_suspension_reason_is_required_and_bounded() -> None:
    with pytest.raises(InvalidValue):
        register().suspend(" ", MONDAY, "desk")
    with pytest.raises(InvalidValue):
        register().suspend("r" * 501, MONDAY, "desk")


def test_upgrades_only_go_up() -> None:
    patron = register()
    patron.upgrade(PatronCategory.PREMIUM, MONDAY, "desk")
    with pytest.raises(NotAnUpgrade):
        patron.upgrade(PatronCategory.REGULAR, MONDAY, "desk")
    with pytest.raises(NotAnUpgrade):
        patron.upgrade(PatronCategory.PREMIUM, MONDAY, "desk")
    patron.upgrade(PatronCategory.RESEARCHER, MONDAY, "desk")
    assert patron.category is PatronCategory.RESEARCHER


def test_renewing_extends_from_expiry_or_from_today_when_expired() -> None:
    patron = register()
    patron.renew_membership(MEMBERSHIP, MONDAY, "desk")
    assert patron.card_expires_on == date(2032, 3, 2)
    expired = register()
    later = datetime(2030, 1, 10, tzinfo=UTC)
    expired.renew_membership(MEMBERSHIP, later, "desk")
    assert expired.card_expires_on == date(2033, 1, 10)


def test_category_accepts_known_names_only() -> None:
    assert parse_category(" Premium ") is PatronCategory.PREMIUM
    with pytest.raises(InvalidValue):
        parse_category("gold")
