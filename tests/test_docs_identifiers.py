"""docs/identifiers.md says what a platform may send; the rules it quotes are held to it here.

The page's organiser table (what you send → what Styrkedja keeps) is read from the page and each row put
through the contracts' `OrganiserId`; its time-stamp advice (which spellings of a date and time in an id are
refused one time in ten, which never) is checked over every minute of a school day.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from pydantic import TypeAdapter
from test_docs_links import ROOT

from styrkedja_contracts.identifiers import OrganiserId, StudentId, contains_personal_identity_number

PAGE = (ROOT / "docs" / "identifiers.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    return PAGE.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def table_rows(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("|") and not line.startswith("|---")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def codes(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_every_spelling_in_the_organiser_table_is_kept_as_the_page_says() -> None:
    rows = table_rows(section("Organiser id (huvudman)"))
    assert len(rows) >= 3
    organiser = TypeAdapter(OrganiserId)
    for sent, kept in rows:
        (expected,) = codes(kept)
        for spelling in codes(sent):
            assert organiser.validate_python(spelling) == expected, (spelling, expected)


def _stamps(left: str, right: str) -> list[str]:
    """Every minute 07:00–18:59 of the page's first example day and the next 9 days, in one form."""
    out = []
    for offset in range(10):
        day = date(2024, 1, 2) + timedelta(days=offset)
        for minute in range(7 * 60, 19 * 60):
            out.append(f"{left.format(day=day)}{right.format(hhmm=f'{minute // 60:02}{minute % 60:02}')}")
    return out


def test_the_time_stamp_spellings_refused_and_never_refused_are_as_the_page_says() -> None:
    text = section("Pseudonymous ids (group, student, teacher)")
    refused_cell, never_cell = table_rows(text)[0]
    student = TypeAdapter(StudentId)
    # the page's "never refused" examples are accepted as ids, and so is every minute in those spellings
    for example in codes(never_cell):
        assert student.validate_python(example) == example
    for left, right in [("elev_{day:%Y%m%d}", "T{hhmm}"), ("elev_{day:%Y%m%d}", ":{hhmm}"),
                        ("elev_{day:%Y%m%d}", "__{hhmm}"), ("elev_{day:%Y%m%d}", "_{hhmm}00")]:
        assert not [s for s in _stamps(left, right) if contains_personal_identity_number(s)], (left, right)
    # and the "refused one time in ten" spellings are: about a tenth of the minutes, each example's form
    assert len(codes(refused_cell)) == 5
    for left, right in [("elev_{day:%Y%m%d}", "_{hhmm}"), ("elev_{day:%Y%m%d}", "-{hhmm}"),
                        ("elev_{day:%Y%m%d}", ".{hhmm}"), ("elev_{day:%Y%m%d}", "{hhmm}"),
                        ("elev_{day:%y%m%d}", "_{hhmm}")]:
        stamps = _stamps(left, right)
        share = sum(contains_personal_identity_number(s) for s in stamps) / len(stamps)
        assert 0.07 < share < 0.13, (left, right, share)
