"""A serving process, once started, collects start-up's garbage, freezes what is left and
collects its young objects less often: a full collection then walks only what came after
(`gc_tuning.py`)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from shelfmark.entrypoints import gc_tuning


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.mark.usefixtures("restored_collector")
def test_start_up_is_left_out_of_every_later_collection() -> None:
    tracked = len(gc.get_objects())

    gc_tuning.freeze_start_up()

    assert gc.get_freeze_count() > tracked / 2
    assert len(gc.get_objects()) < tracked / 10
    later = [[n] for n in range(1_000)]  # containers made after the start are still walked
    assert len(gc.get_objects()) >= len(later)


@pytest.mark.usefixtures("restored_collector")
def test_start_up_garbage_is_collected_not_frozen() -> None:
    gc.disable()  # no collection of its own between the cycle's making and the freeze
    try:
        first, second = Node(), Node()
        first.other, second.other = second, first
        cycle = weakref.ref(first)
        del first, second

        gc_tuning.freeze_start_up()
    finally:
        gc.enable()

    assert cycle() is None


@pytest.mark.usefixtures("restored_collector")
def test_young_objects_are_collected_less_often() -> None:
    gc_tuning.freeze_start_up()

    assert gc.get_threshold()[0] == gc_tuning.YOUNG_THRESHOLD > 700
