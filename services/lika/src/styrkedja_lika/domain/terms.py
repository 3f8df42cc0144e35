"""School terms (terminer) for the action plan's suggested terms."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from styrkedja_contracts.identifiers import SchoolYear, Term

__all__ = ["SchoolTerm"]

_TERM_RE = re.compile(r"^\s*(HT|VT)\s*(\d{4})/(\d{2})\s*$")


class SchoolTerm(BaseModel):
    """A term of a school year: ``HT 2026/27`` (autumn 2026), then ``VT 2026/27`` (spring 2027)."""

    model_config = ConfigDict(frozen=True)

    school_year: SchoolYear
    term: Term

    @classmethod
    def parse(cls, text: str) -> SchoolTerm:
        """Parse ``"HT 2026/27"`` / ``"VT 2026/27"``."""
        m = _TERM_RE.match(text)
        if not m:
            raise ValueError(f"{text!r} is not a term like 'HT 2026/27'")
        return cls(school_year=f"{m.group(2)}/{m.group(3)}", term=Term(m.group(1)))

    @property
    def start_year(self) -> int:
        return int(self.school_year[:4])

    @property
    def index(self) -> int:
        """A running number: consecutive terms differ by one (HT before VT of the same school year)."""
        return self.start_year * 2 + (0 if self.term is Term.HT else 1)

    @classmethod
    def from_index(cls, index: int) -> SchoolTerm:
        year, half = divmod(index, 2)
        return cls(school_year=f"{year}/{(year + 1) % 100:02d}", term=Term.HT if half == 0 else Term.VT)

    def shift(self, terms: int) -> SchoolTerm:
        """The term ``terms`` terms later (or earlier, if negative)."""
        return SchoolTerm.from_index(self.index + terms)

    def __str__(self) -> str:
        return f"{self.term.value} {self.school_year}"

    def __lt__(self, other: SchoolTerm) -> bool:
        return self.index < other.index

    def __le__(self, other: SchoolTerm) -> bool:
        return self.index <= other.index
