"""orchestrion.collection: a serving process's garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from orchestrion import collection


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_collector")
def test_what_exists_at_start_is_frozen_and_young_collections_come_rarely() -> None:
    built_at_start = [{"route": i} for i in range(100)]
    collection.for_serving()
    assert gc.get_freeze_count() >= len(built_at_start)
    assert gc.get_threshold()[0] == collection.YOUNG_THRESHOLD
