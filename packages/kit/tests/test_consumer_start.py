"""Where a partition is read from when a member is handed it (the rule in `styrkedja_kit.consumer`'s docstring;
on the broker: `test_outbox_consumer.py`, `test_a_fresh_group_over_a_filled_database…`, `test_a_new_database…`).

Invariant 1 decides: a database without an offset of its own never starts at the broker's marker (it may be another
database's), and a fresh group over a database that another group filled does not read the log again from its start
(every event there is claimed already: hours of work on a long log that apply nothing)."""

from __future__ import annotations

from uuid import uuid4

from styrkedja_kit.consumer import StartPosition, another_log, log_gap, start_position


def test_the_groups_own_offset_comes_first_and_is_confirmed_only_where_logs_may_be_lost():
    assert start_position(40, [90], may_lose_logs=False) == StartPosition(40, "stored")
    assert start_position(40, [90], may_lose_logs=True) == StartPosition(40, "stored", confirm_marker=True)
    assert start_position(0, [], may_lose_logs=True) == StartPosition(0, "stored")


def test_without_an_own_offset_the_furthest_of_another_groups_on_a_broker_that_keeps_its_logs():
    assert start_position(None, [70, 120, 5], may_lose_logs=False) == StartPosition(120, "other_group")
    # such an offset may be of a log the broker has lost since: from the start
    assert start_position(None, [70, 120], may_lose_logs=True) == StartPosition(0, "log_start")


def test_a_database_without_offsets_reads_from_the_start():
    """Whatever the broker's marker says: the function is not even given it."""
    assert start_position(None, [], may_lose_logs=False) == StartPosition(0, "log_start")
    assert start_position(None, (), may_lose_logs=True) == StartPosition(0, "log_start")


def test_an_offset_the_log_does_not_hold_beyond_its_end_is_a_replaced_log_before_its_start_a_truncated_one():
    """`log_gap` (ops19): beyond the end the log was replaced (read its start), before the start records were lost."""
    assert log_gap(120, 0, 40) == "replaced"
    assert log_gap(40, 0, 40) is None  # at the end: nothing new yet
    assert log_gap(10, 25, 40) == "truncated"
    assert log_gap(25, 25, 40) is None
    assert log_gap(120, None, None) is None  # bounds not told: nothing proven


def test_records_before_the_offset_none_of_which_was_applied_here_are_another_log():
    """`another_log` (ops20): the topic made again and grown past the offset holds other events there. One of ours is
    the same log (the others before it may be dead letters); no event to compare proves nothing."""
    ours, theirs = uuid4(), uuid4()
    assert another_log([theirs, uuid4()], set()) is True
    assert another_log([theirs, ours], {ours}) is False
    assert another_log([], set()) is False
