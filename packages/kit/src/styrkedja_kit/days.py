"""The school's day. Swedish schools live by Swedish time: a teaching assignment that ends on 30 June
ends at midnight in Sweden, not at midnight UTC (22:00 or 23:00 Swedish time) or at the server's local
midnight (UTC in the images). Every "today" that decides access, a roster or a figure's age is this one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SWEDEN = ZoneInfo("Europe/Stockholm")


def now_utc() -> datetime:
    return datetime.now(UTC)


def school_today(now: datetime | None = None) -> date:
    """The date in Sweden at `now` (the current moment by default)."""
    return (now or now_utc()).astimezone(SWEDEN).date()
