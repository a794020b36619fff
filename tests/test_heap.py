"""freeze_heap moves live objects out of the collector's way and never lowers its threshold."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from headway._heap import freeze_heap


@pytest.fixture
def collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector")
def test_live_objects_are_frozen_and_the_young_threshold_only_rises() -> None:
    kept = [[i] for i in range(1000)]  # a thousand live containers
    gc.set_threshold(700, 10, 10)
    freeze_heap(20_000)
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (20_000, 10, 10)
    gc.set_threshold(50_000, 10, 10)
    freeze_heap(20_000)  # a threshold someone raised further stays
    assert gc.get_threshold() == (50_000, 10, 10)
    freeze_heap()
    assert gc.get_threshold() == (50_000, 10, 10)
