"""The consumer's verdicts on a decoded event: `unfit` (wrong topic, a key not the event's, time far ahead of
its record)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from styrkedja_contracts import decode_event, topic_for_event_type
from styrkedja_contracts.examples import example_bytes
from styrkedja_kit.consumer import MAX_AHEAD_OF_RECORD_MS, ahead_of_record, unfit

EVENT = decode_event(example_bytes("se.styrkedja.assessment.published.v1"))
EVENT_MS = int(EVENT.time.timestamp() * 1000)
KEY = EVENT.partition_key()


def test_an_event_sent_after_its_time_or_within_the_skew_is_fit():
    assert unfit(EVENT, "styrkedja.assessments", EVENT_MS + 5_000, key=KEY) is None
    assert unfit(EVENT, "styrkedja.assessments", EVENT_MS - MAX_AHEAD_OF_RECORD_MS, key=KEY) is None


def test_an_event_dated_beyond_the_skew_after_its_record_is_time_in_future():
    verdict = unfit(EVENT, "styrkedja.assessments", EVENT_MS - MAX_AHEAD_OF_RECORD_MS - 1, key=KEY)
    assert verdict is not None and verdict[0] == "time_in_future"
    assert EVENT.time.isoformat() in verdict[1]


@pytest.mark.parametrize(("event_type", "field"), [
    ("se.styrkedja.organisation.unit_upserted.v1", "updated_at"),
    ("se.styrkedja.organisation.entity_removed.v1", "removed_at"),
    ("se.styrkedja.lika.self_assessment_published.v1", "published_at"),
    ("se.styrkedja.assessment.published.v1", "published_at"),
])
def test_an_event_whose_data_is_dated_beyond_the_skew_after_its_record_is_time_in_future(event_type, field):
    """Round 28t: a producer whose clock said 2099 in the data, with a true `time`. The directory keeps the change of
    the newest `updated_at` (`removed_at`), reporting's LIKA the newest `published_at`: such an event won over every
    later one until 2099, each applied as nothing. Failed on the old code: fit (only `time` was judged), live and in
    the rebuild alike (both judge by `unfit`). Within the skew it is fit."""
    event = decode_event(example_bytes(event_type))
    sent_ms = int(event.time.timestamp() * 1000) + 1_000
    for ahead, verdict in ((timedelta(days=365 * 73), "time_in_future"),
                           (timedelta(milliseconds=MAX_AHEAD_OF_RECORD_MS + 1_001), "time_in_future"),
                           (timedelta(milliseconds=MAX_AHEAD_OF_RECORD_MS), None)):
        moved = event.model_copy(update={"data": event.data.model_copy(update={field: event.time + ahead})})
        got = unfit(moved, topic_for_event_type(event_type), sent_ms, key=moved.partition_key())
        assert (got and got[0]) == verdict, (ahead, got)
        if got:
            assert got[1].startswith(f"data.{field}: "), got


def test_records_without_a_usable_timestamp_are_not_judged():
    far = EVENT.model_copy(update={"time": datetime(2199, 1, 1, tzinfo=UTC)})
    for missing in (None, -1, 0, int(datetime(1999, 12, 31, tzinfo=UTC).timestamp() * 1000)):
        assert ahead_of_record(far, missing) is None
    assert ahead_of_record(far, int((datetime.now(UTC) - timedelta(days=1)).timestamp() * 1000)) is not None


def test_the_wrong_topic_is_judged_first():
    verdict = unfit(EVENT, "styrkedja.forecasts", EVENT_MS - 10 * MAX_AHEAD_OF_RECORD_MS, key=b"other")
    assert verdict is not None and verdict[0] == "wrong_topic"


def test_a_record_keyed_by_another_organiser_or_by_none_is_a_key_mismatch():
    """Keyed by another organiser, the event would land in that organiser's partition and be applied
    beside its own organiser's order (two writers for one organiser). Applied silently before."""
    for key in (b"0180", None, b"", KEY + b"\x00", KEY.lower() + b" "):
        verdict = unfit(EVENT, "styrkedja.assessments", EVENT_MS + 5_000, key=key)
        assert verdict is not None and verdict[0] == "key_mismatch", key
        assert "data.organiser_id" in verdict[1]
    # before the time: a record with both faults is dead-lettered for its key
    verdict = unfit(EVENT, "styrkedja.assessments", EVENT_MS - 10 * MAX_AHEAD_OF_RECORD_MS, key=None)
    assert verdict is not None and verdict[0] == "key_mismatch"


def test_a_topic_the_registry_does_not_know_is_not_judged_by_key():
    assert unfit(EVENT, "a-tests-own-topic", EVENT_MS + 5_000, key=None) is None


def test_the_moments_are_judged_by_the_seconds_given():
    """`seconds` (the rebuild's remembered `timestamp()`s, decode36) stands for `timestamp()` for every moment judged,
    the event's `time` and its data's: given the same numbers the verdicts are the same; given others, those decide."""
    asked: list[datetime] = []

    def same(moment: datetime) -> float:
        asked.append(moment)
        return moment.timestamp()

    for sent in (EVENT_MS + 5_000, EVENT_MS - MAX_AHEAD_OF_RECORD_MS, EVENT_MS - MAX_AHEAD_OF_RECORD_MS - 1):
        assert unfit(EVENT, "styrkedja.assessments", sent, key=KEY, seconds=same) == \
            unfit(EVENT, "styrkedja.assessments", sent, key=KEY)
    assert asked[:2] == [EVENT.time, EVENT.data.published_at]
    far = EVENT.time.timestamp() + 2 * MAX_AHEAD_OF_RECORD_MS / 1000
    verdict = ahead_of_record(EVENT, EVENT_MS, seconds=lambda moment: far)
    assert verdict is not None and verdict.startswith("time: ")
    verdict = ahead_of_record(EVENT, EVENT_MS, seconds=lambda m: far if m is EVENT.data.published_at else 0.0)
    assert verdict is not None and verdict.startswith("data.published_at: ")
