"""Pure: which period the figures are about — the user's choice, else the newest in the results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from styrkedja_kit.days import school_today


@dataclass(frozen=True)
class Period:
    school_year: str
    term: str
    round: int | None = None

    @property
    def text(self) -> str:
        return f"{self.term} {self.school_year}" + (f", omgång {self.round}" if self.round else "")

    def params(self) -> dict[str, Any]:
        return {"school_year": self.school_year, "term": self.term, "round": self.round}


def current_school_year(today: date | None = None) -> tuple[str, str]:
    """The school year and term of a day: HT from July, VT from January."""
    d = today or school_today()
    start = d.year if d.month >= 7 else d.year - 1
    return f"{start}/{(start + 1) % 100:02d}", "HT" if d.month >= 7 else "VT"


def newest(cells: list[dict[str, Any]]) -> tuple[str, str] | None:
    found = [(str(c["school_year"]), c.get("term") == "VT", str(c.get("term"))) for c in cells
             if c.get("school_year") and c.get("term")]
    if not found:
        return None
    school_year, _, term = max(found)
    return school_year, term


def choose(school_year: str | None, term: str | None, round: int | None, cells: list[dict[str, Any]]) -> Period:
    seen = newest(cells) or current_school_year()
    if school_year and not term:
        term = seen[1] if seen[0] == school_year else "HT"
    return Period(school_year or seen[0], term or seen[1], round)
