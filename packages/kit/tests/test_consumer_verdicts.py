"""The consumer's verdicts on a decoded event: `unfit` (wrong topic, time far ahead of its record)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from styrkedja_contracts import decode_event
from styrkedja_contracts.examples import example_bytes
from styrkedja_kit.consumer import MAX_AHEAD_OF_RECORD_MS, ahead_of_record, unfit

EVENT = decode_event(example_bytes("se.styrkedja.assessment.published.v1"))
EVENT_MS = int(EVENT.time.timestamp() * 1000)


def test_an_event_sent_after_its_time_or_within_the_skew_is_fit():
    assert unfit(EVENT, "styrkedja.assessments", EVENT_MS + 5_000) is None
    assert unfit(EVENT, "styrkedja.assessments", EVENT_MS - MAX_AHEAD_OF_RECORD_MS) is None


def test_an_event_dated_beyond_the_skew_after_its_record_is_time_in_future():
    verdict = unfit(EVENT, "styrkedja.assessments", EVENT_MS - MAX_AHEAD_OF_RECORD_MS - 1)
    assert verdict is not None and verdict[0] == "time_in_future"
    assert EVENT.time.isoformat() in verdict[1]


def test_records_without_a_usable_timestamp_are_not_judged():
    far = EVENT.model_copy(update={"time": datetime(2199, 1, 1, tzinfo=UTC)})
    for missing in (None, -1, 0, int(datetime(1999, 12, 31, tzinfo=UTC).timestamp() * 1000)):
        assert ahead_of_record(far, missing) is None
    assert ahead_of_record(far, int((datetime.now(UTC) - timedelta(days=1)).timestamp() * 1000)) is not None


def test_the_wrong_topic_is_judged_first():
    verdict = unfit(EVENT, "styrkedja.forecasts", EVENT_MS - 10 * MAX_AHEAD_OF_RECORD_MS)
    assert verdict is not None and verdict[0] == "wrong_topic"
