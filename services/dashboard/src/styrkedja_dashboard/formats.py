"""Swedish number and date formats (Babel's sv_SE locale data), and how a withheld figure reads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

LOCALE = "sv_SE"
STOCKHOLM = ZoneInfo("Europe/Stockholm")

#: Skolverket's reason codes → the hover text of `..`
REASONS = {
    "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS": "Visas inte: uppgiften bygger på för få elever "
                                          "(eller skulle göra det möjligt att räkna ut en sådan uppgift).",
    "MISSING": "Uppgift saknas.",
}
DEFAULT_REASON = REASONS["OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"]


def share(value: float | None) -> str:
    """0.734 → '73,4 %' (Swedish: decimal comma, space before %)."""
    return "" if value is None else format_percent(value, "#,##0.0\u00a0%", locale=LOCALE)


def points(value: float | None) -> str:
    """A change in share as percentage points: 0.031 → '+3,1 procentenheter'."""
    if value is None:
        return ""
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{format_decimal(abs(value) * 100, '0.0', locale=LOCALE)} procentenheter"


def number(value: float | int | None) -> str:
    return "" if value is None else format_decimal(value, locale=LOCALE)


def level(value: float | None) -> str:
    """A mean level (LIKA) with at most two decimals: 2,14."""
    return "" if value is None else format_decimal(value, "0.##", locale=LOCALE)


def day(value: date | datetime | str | None) -> str:
    """Dates as Swedes write them in reports: 2026-12-01 (ISO, SS-ISO 8601); times with hh:mm."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return format_datetime(value, "yyyy-MM-dd HH:mm", tzinfo=STOCKHOLM, locale=LOCALE)
    return format_date(value, "yyyy-MM-dd", locale=LOCALE)


def figure(value: Any) -> tuple[float | None, str | None]:
    """A figure as the services send it — a number, `null`, or `{"value": …, "reason": …}` — as
    (value, reason code or None)."""
    if isinstance(value, dict):
        reason = value.get("reason")
        return value.get("value"), (None if reason in (None, "EXISTS") else str(reason))
    return value, None


def reason_text(code: str | None) -> str:
    return REASONS.get(code or "", DEFAULT_REASON)
