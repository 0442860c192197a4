"""`read_ahead`: a file's next batch is made in a thread while the caller writes this one."""
from __future__ import annotations

import threading
from contextlib import closing

import pytest

from pipeline.stages.ingest.invoices import read_ahead


def test_items_arrive_in_order_and_each_is_made_in_another_thread_one_ahead():
    made, caller = [], threading.current_thread().name

    def source():
        for n in range(5):
            made.append((n, threading.current_thread().name))
            yield n

    seen = []
    for item in read_ahead(source()):
        seen.append((item, len(made)))
    assert [item for item, _ in seen] == [0, 1, 2, 3, 4]
    # when item n reaches the caller, item n + 1 is already asked for (and, but for the last, made)
    assert all(count >= item + 1 for item, count in seen)
    assert {name for _, name in made} != {caller}
    assert all(name.startswith("read-ahead") for _, name in made)


def test_an_error_of_the_source_reaches_the_caller_after_the_items_before_it():
    def source():
        yield "first"
        raise ValueError("line 7: bad")

    seen = []
    with pytest.raises(ValueError, match="line 7: bad"):
        for item in read_ahead(source()):
            seen.append(item)
    assert seen == ["first"]


def test_closed_early_it_stops_the_source_one_item_ahead_and_leaves_no_thread():
    made = []

    def source():
        for n in range(100):
            made.append(n)
            yield n

    before = threading.active_count()
    with closing(read_ahead(source())) as items:
        assert next(items) == 0
    assert made == [0, 1]
    assert threading.active_count() == before
