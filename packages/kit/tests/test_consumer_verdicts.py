"""The consumer's verdicts on a decoded event: `unfit` (wrong topic, a key not the event's, time far ahead of
its record)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from styrkedja_contracts import decode_event
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
