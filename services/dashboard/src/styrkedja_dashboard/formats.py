"""Swedish number and date formats (Babel's sv_SE locale data), and how a withheld figure reads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

from .shapes import LARGEST

LOCALE = "sv_SE"
STOCKHOLM = ZoneInfo("Europe/Stockholm")

#: Skolverket's reason codes → the hover text of `..`
REASONS = {
    "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS": "Visas inte: uppgiften bygger på för få elever "
                                          "(eller skulle göra det möjligt att räkna ut en sådan uppgift).",
    "MISSING": "Uppgift saknas.",
}
DEFAULT_REASON = REASONS["OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"]


def _is_number(value: object) -> TypeGuard[int | float | Decimal]:
    """A number to format. Anything else (None, a missing key, which Jinja hands over as `Undefined`, or
    text where a service should have sent a number) formats as "": the page shows what is there. So does a number
    no figure can be — NaN, infinity, or beyond `LARGEST` (Babel's rounding raised on 10**30: a 500)."""
    if not isinstance(value, (int, float, Decimal)) or isinstance(value, bool):
        return False
    return -LARGEST <= value <= LARGEST  # False for NaN and infinity too (math.isfinite raised on 10**400)


def share(value: float | None) -> str:
    """0.734 → '73,4 %' (Swedish: decimal comma, space before %)."""
    return format_percent(value, "#,##0.0\u00a0%", locale=LOCALE) if _is_number(value) else ""


def points(value: float | None) -> str:
    """A change in share as percentage points: 0.031 → '+3,1 procentenheter'."""
    if value is None or not _is_number(value):
        return ""
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    magnitude: Any = abs(value)  # int, float or Decimal alike: mypy's abs() of the union loses the type
    return f"{sign}{format_decimal(magnitude * 100, '0.0', locale=LOCALE)} procentenheter"


def number(value: float | int | None) -> str:
    return format_decimal(value, locale=LOCALE) if _is_number(value) else ""


def level(value: float | None) -> str:
    """A mean level (LIKA) with at most two decimals: 2,14."""
    return format_decimal(value, "0.##", locale=LOCALE) if _is_number(value) else ""


def day(value: date | datetime | str | None) -> str:
    """Dates as Swedes write them in reports: 2026-12-01 (ISO, SS-ISO 8601); times with hh:mm."""
    moment: object = value
    if isinstance(value, str):
        try:
            moment = (date.fromisoformat(value) if len(value) == 10
                      else datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:  # not a date as sent: shown as sent (escaped like any text), never a 500
            return value
    if isinstance(moment, datetime):
        try:
            return format_datetime(moment, "yyyy-MM-dd HH:mm", tzinfo=STOCKHOLM, locale=LOCALE) + _repeated_hour(moment)
        except OverflowError:  # in Swedish time past the calendar's ends (9999-12-31T23:59:59-14:00): a 500 page before
            return value if isinstance(value, str) else moment.isoformat()
    if isinstance(moment, date):
        return format_date(moment, "yyyy-MM-dd", locale=LOCALE)
    return ""  # None, a missing key (Jinja's `Undefined`), a number


def _repeated_hour(moment: datetime) -> str:
    """" sommartid" or " vintertid" for a moment in the hour Swedish clocks show twice (02:00–02:59 on the last Sunday
    of October: first in summer time, then again in winter time), else "": "2026-10-25 02:30" named two instants an
    hour apart (round 28t). Only that hour: every other time is one instant as it stands. A naive moment is UTC's, as
    Babel reads it for the time shown."""
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(STOCKHOLM)
    if local.replace(fold=1 - local.fold).utcoffset() == local.utcoffset():
        return ""
    return " sommartid" if local.dst() else " vintertid"


def figure(value: Any) -> tuple[float | None, str | None]:
    """A figure as the services send it — a number, `null`, or `{"value": …, "reason": …}` — as
    (value, reason code or None)."""
    if isinstance(value, dict):
        reason = value.get("reason")
        return value.get("value"), (None if reason is None or reason == "EXISTS" else str(reason))
    return value, None


def reason_text(code: str | None) -> str:
    return REASONS.get(code or "", DEFAULT_REASON)
