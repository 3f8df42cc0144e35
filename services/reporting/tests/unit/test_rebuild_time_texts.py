"""The rebuild's COPY text of a time made once per distinct time (`bulk._tstz`, rebuild35), and its `timestamp()`
with it (`bulk._seconds`, `unfit`'s, decode36): always the text `timestamptz_text` makes of that very value — the same
instant in another offset keeps its own text, a naive time is refused, an offset PostgreSQL does not read goes in
UTC — and the number its `timestamp()` gives, whatever times came before and in whichever order the two are asked
(the last two times are answered by identity); the memo stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import permutations

import pydantic_core
import pytest
from pydantic import TypeAdapter

from styrkedja_reporting.rebuild import bulk
from styrkedja_reporting.staging import timestamptz_text

DECODED = TypeAdapter(datetime)  # the decode's times: pydantic-core's fixed-offset `TzInfo`
TEXTS = ["2026-11-16T14:42:00Z", "2026-11-16T15:42:00+01:00", "2026-11-16T14:42:00+00:00",
         "2026-11-16T03:12:00-11:30", "2026-11-16T14:42:00.000001Z", "2026-11-17T06:42:00+16:00",
         "2026-11-16T14:42:00-05:00"]  # the first's fields, another offset: another instant, text and number


def _times() -> list[datetime]:
    decoded = [DECODED.validate_json(f'"{t}"') for t in TEXTS]
    assert all(type(t.tzinfo).__name__ == "TzInfo" for t in decoded)
    # an offset of seconds (no JSON text of one decodes: made with the decode's own `TzInfo`), whose text PostgreSQL
    # does not read: in UTC
    odd = datetime(2026, 11, 16, 14, 42, 30, tzinfo=pydantic_core.TzInfo(30))
    return [*decoded, odd, datetime(2026, 11, 16, 15, 42, tzinfo=timezone(timedelta(hours=1))),
            datetime(2026, 11, 16, 14, 42, tzinfo=UTC)]


@pytest.mark.parametrize("order", list(permutations(range(4))))
def test_each_time_gets_its_own_values_text_whatever_came_before(order: tuple[int, ...]) -> None:
    bulk._TSTZ_MEMO.clear()
    times = _times()
    assert times[0] == times[1] == times[2]  # one instant, three texts
    for i in (*order, *range(len(times)), *order):
        assert bulk._tstz(times[i]) == timestamptz_text(times[i])
        assert bulk._seconds(times[i]) == times[i].timestamp()
    for i in (*reversed(order), *order):  # the seconds asked first, then the text, of each in turn and of others
        again = DECODED.validate_json(f'"{TEXTS[i]}"') if i < len(TEXTS) else times[i]
        assert bulk._seconds(again) == again.timestamp() and bulk._tstz(again) == timestamptz_text(again)
        assert bulk._tstz(times[i - 1]) == timestamptz_text(times[i - 1])
    assert bulk._tstz(times[1]).endswith("+01:00") and bulk._tstz(times[0]).endswith("+00:00")


def test_a_naive_time_is_refused_as_before() -> None:
    naive = datetime(2026, 11, 16, 14, 42)
    assert bulk._seconds(naive) == naive.timestamp()  # `timestamp()`'s own reading, as `ahead_of_record`'s was
    with pytest.raises(TypeError):
        bulk._tstz(naive)


def test_a_time_is_made_once_and_the_memo_stays_bounded(monkeypatch) -> None:
    bulk._TSTZ_MEMO.clear()
    made: list[datetime] = []

    def counting(value: datetime) -> str:
        made.append(value)
        return timestamptz_text(value)

    monkeypatch.setattr(bulk, "timestamptz_text", counting)
    first = DECODED.validate_json('"2026-11-16T14:42:00Z"')
    for _ in range(3):  # an event's `time` and its data's, as decoded apart: equal values, other objects
        assert bulk._tstz(DECODED.validate_json('"2026-11-16T14:42:00Z"')) == "2026-11-16T14:42:00+00:00"
    assert len(made) == 1 and made[0] == first
    for second in range(bulk.TSTZ_MEMO_SIZE + 10):
        bulk._tstz(first + timedelta(seconds=second + 1))
    assert len(bulk._TSTZ_MEMO) <= bulk.TSTZ_MEMO_SIZE
