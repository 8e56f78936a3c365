import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shelfmark.lending.domain.errors import HoldNotActive, HoldRefused
from shelfmark.lending.domain.holds import Hold, HoldStatus
from shelfmark.lending.domain.queue import holds_waiting_refusal, next_in_line, place_hold
from tests.support.clock import MONDAY
from tests.unit.lending_builders import POLICY, shelf_copy, standing

CALENDAR = POLICY.library.calendar


def queued(number: int, restricted_ok: bool = False) -> Hold:
    return Hold.place(
        book_id=uuid.uuid4(),
        patron_id=uuid.uuid4(),
        queue_number=number,
        restricted_ok=restricted_ok,
        open_ended=False,
        expiry_days=365,
        now=MONDAY,
        actor="desk",
    )


def test_the_next_in_line_is_the_first_waiting_hold_the_copy_may_fill() -> None:
    regular_first, researcher_second = queued(1), queued(2, restricted_ok=True)
    assert next_in_line([researcher_second, regular_first], shelf_copy()) is regular_first
    assert (
        next_in_line([regular_first, researcher_second], shelf_copy("restricted"))
        is researcher_second
    )
    assert next_in_line([regular_first], shelf_copy("reference")) is None


def test_a_placed_hold_is_ready_at_once_when_a_suitable_copy_is_on_the_shelf() -> None:
    hold = place_hold(
        book_id=uuid.uuid4(),
        copies=[shelf_copy(on_loan=True), shelf_copy()],
        standing=standing(),
        active_holds=[],
        waiting=[],
        has_book_on_loan=False,
        open_ended=False,
        queue_number=1,
        now=MONDAY,
        actor="desk",
    )
    assert hold.status is HoldStatus.READY
    assert hold.pickup_deadline == datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC)
    assert [e.name for e in hold.pending_events] == ["HoldPlaced", "HoldReadyForPickup"]


def test_a_reference_only_book_cannot_be_held() -> None:
    with pytest.raises(HoldRefused) as refusal:
        place_hold(
            book_id=uuid.uuid4(),
            copies=[shelf_copy("reference")],
            standing=standing(),
            active_holds=[],
            waiting=[],
            has_book_on_loan=False,
            open_ended=False,
            queue_number=1,
            now=MONDAY,
            actor="desk",
        )
    assert [r.code for r in refusal.value.reasons] == ["REFERENCE_ONLY"]


def test_terminal_holds_never_change_again() -> None:
    hold = queued(1)
    hold.cancel(MONDAY, "desk")
    with pytest.raises(HoldNotActive):
        hold.cancel(MONDAY, "desk")
    with pytest.raises(HoldNotActive):
        hold.make_ready(uuid.uuid4(), CALENDAR, 7, MONDAY, "desk")
    assert hold.expire(MONDAY + timedelta(days=400), "desk") is None
    assert hold.status is HoldStatus.CANCELLED


def test_expiry_of_waiting_and_ready_holds() -> None:
    waiting = queued(1)
    assert not waiting.is_expired(MONDAY + timedelta(days=365))
    assert waiting.is_expired(MONDAY + timedelta(days=365, seconds=1))
    ready = queued(2)
    copy = uuid.uuid4()
    ready.make_ready(copy, CALENDAR, 7, MONDAY, "desk")
    assert ready.expire(ready.pickup_deadline or MONDAY, "desk") is None  # not yet
    assert ready.expire(MONDAY + timedelta(days=8), "desk") == copy


@pytest.mark.parametrize(
    ("waiting", "on_shelf", "refused"), [(0, 0, False), (1, 1, False), (2, 1, True), (1, 0, True)]
)
def test_renewal_and_waiting_holds(waiting: int, on_shelf: int, refused: bool) -> None:
    assert (holds_waiting_refusal(waiting, on_shelf) is not None) is refused


def test_nobody_jumps_the_queue_for_a_copy_that_appeared_on_the_shelf() -> None:
    earlier = queued(1)
    shelf = shelf_copy()
    late = place_hold(
        book_id=earlier.book_id,
        copies=[shelf],
        standing=standing(),
        active_holds=[],
        waiting=[earlier],
        has_book_on_loan=False,
        open_ended=False,
        queue_number=2,
        now=MONDAY,
        actor="desk",
    )
    assert (earlier.status, earlier.copy_id) == (HoldStatus.READY, shelf.copy_id)
    assert late.status is HoldStatus.WAITING
