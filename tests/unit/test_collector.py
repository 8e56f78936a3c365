"""A serving process, once started, freezes what start-up made and collects its young objects
less often: a full collection then walks only what came after (`collector.py`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shelfmark.entrypoints import collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_collector")
def test_a_settled_process_leaves_what_start_up_made_out_of_every_collection() -> None:
    tracked = len(gc.get_objects())

    collector.settle()

    assert gc.get_freeze_count() > tracked / 2
    assert len(gc.get_objects()) < tracked / 10
    later = [[n] for n in range(1_000)]  # containers made after the start are still walked
    assert len(gc.get_objects()) >= len(later)


@pytest.mark.usefixtures("restored_collector")
def test_a_settled_process_collects_its_young_objects_less_often() -> None:
    collector.settle()

    assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD > 700
