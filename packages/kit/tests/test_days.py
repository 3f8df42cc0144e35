"""The school's day is Sweden's, whatever the server's zone (UTC in the images)."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from styrkedja_kit import days

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(("moment", "day"), [
    (datetime(2026, 6, 30, 22, 30, tzinfo=UTC), date(2026, 7, 1)),  # 00:30 on 1 July in summer time
    (datetime(2026, 6, 30, 21, 59, tzinfo=UTC), date(2026, 6, 30)),
    (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), date(2027, 1, 1)),  # midnight in winter time: VT begins
    (datetime(2026, 12, 31, 22, 59, tzinfo=UTC), date(2026, 12, 31)),
])
def test_the_school_day_turns_at_midnight_in_sweden(moment: datetime, day: date) -> None:
    assert days.school_today(moment) == day


def test_the_default_moment_is_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(days, "now_utc", lambda: datetime(2026, 6, 30, 22, 30, tzinfo=UTC))
    assert days.school_today() == date(2026, 7, 1)


def _local_today_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr == "today"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "date"]


#: the answer cache keys answers by every day that may turn, the process's local one among them
LOCAL_DAY_ALLOWED = {"services/reporting/src/styrkedja_reporting/access/answers.py"}


def test_no_service_takes_the_servers_local_date_for_the_school_day() -> None:
    """Failed before: a teacher's assignment ending on 30 June still opened its groups' results until 02:00 on 1 July
    in Sweden (reporting's `reader_of` took `date.today()`, the server's UTC date), and the roster sizes, the
    figures' ages, the dashboard's current term and the downloads' dates turned a day late for an hour or two."""
    found = {}
    for path in sorted([*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("packages/*/src/**/*.py")]):
        name = str(path.relative_to(ROOT))
        if name not in LOCAL_DAY_ALLOWED and (lines := _local_today_calls(path)):
            found[name] = lines
    assert found == {}, found
