"""Pure parts: the chain matrix, withheld cells rendered as `..` with the reason, Swedish formats."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from styrkedja_dashboard import formats
from styrkedja_dashboard.chain.view import matrix, table
from styrkedja_dashboard.web.pages import templates


def cell(unit: str, subject: str, share, *, round_: int = 1, assessed=12, passing=9, **extra) -> dict:
    return {"level": "school_unit", "unit_id": unit, "subject_code": subject, "school_year": "2026/27",
            "term": "HT", "round": round_, "share_reaching_pass": share, "assessed": assessed,
            "reaching_pass": passing, **extra}


def test_matrix_rows_columns_and_the_newest_round():
    m = matrix("school_unit", [cell("B", "GRGRSVE01", 0.5), cell("A", "GRGRMAT01", 0.25, round_=1),
                               cell("A", "GRGRMAT01", 0.75, round_=2)])
    assert [r.unit_id for r in m.rows] == ["A", "B"]
    assert m.subjects == ["GRGRMAT01", "GRGRSVE01"]  # Matematik before Svenska
    assert m.rows[0].cells["GRGRMAT01"].share == 0.75


def test_withheld_figures_keep_their_reason_in_every_shape_the_service_sends():
    reason = "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"
    m = matrix("school_unit", [
        cell("A", "GRGRMAT01", {"value": None, "reason": reason}, assessed={"value": None, "reason": reason}),
        cell("B", "GRGRMAT01", None, withheld={"share_reaching_pass": reason}),
        cell("C", "GRGRMAT01", None, assessed=0, passing=0),
        cell("D", "GRGRMAT01", None, assessed=None, passing=None, reason=reason),  # reporting's results API
        cell("E", "GRGRMAT01", None, assessed=None, passing=None, reason="MISSING")])
    a, b, c, d, e = (row.cells["GRGRMAT01"] for row in m.rows)
    assert a.withheld and a.reason == reason and b.withheld and d.withheld and d.reason == reason
    assert not c.withheld and not e.withheld  # no students at all is not a secret
    header, rows = table(m)
    assert header == ["Skolenhet", "Matematik"] and [r[1] for r in rows] == ["..", "..", None, "..", None]


def test_a_withheld_cell_renders_as_dots_with_the_explanation():
    m = matrix("school_unit", [cell("A", "GRGRMAT01", {"value": None, "reason": "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"}),
                               cell("B", "GRGRMAT01", 0.734, assessed=15, passing=11)])
    macros = templates.env.get_template("_macros.html").module
    html = str(macros.matrix_table(m, "Skolenheter", "Skolenhet"))
    assert '<abbr class="withheld" title="Visas inte: uppgiften bygger på för få elever' in html
    assert ">..</abbr>" in html
    assert "73,4\u00a0%" in html and 'title="11 av 15 elever"' in html


def test_swedish_formats():
    assert formats.share(0.5) == "50,0\u00a0%"
    assert formats.number(6000) == "6\u00a0000"
    assert formats.day(date(2026, 12, 1)) == "2026-12-01"
    assert formats.day("2026-11-10T08:05:00+00:00") == "2026-11-10 09:05"  # Swedish time
    assert formats.day("2026-11-10") == "2026-11-10"
    assert formats.level(2.142857) == "2,14"
    assert formats.share(None) == ""


def test_a_moment_is_shown_in_swedish_time_at_the_calendars_edges_never_raising():
    """Round 28t: a moment from upstream whose Swedish time lies past the calendar's ends raised OverflowError (a 500
    page, failed on the old code): now shown as sent. Across DST the hour is Sweden's: 01:30 UTC on the last Sunday
    of March is 03:30 (no 02:30 that day); the last Sunday of October's repeated hour: see below."""
    assert formats.day("9999-12-31T23:59:59-14:00") == "9999-12-31T23:59:59-14:00"
    assert formats.day("0001-01-01T00:00:00+14:00") == "0001-01-01T00:00:00+14:00"
    assert formats.day("2027-03-28T01:30:00Z") == "2027-03-28 03:30"
    assert formats.day("2027-03-28T00:59:59Z") == "2027-03-28 01:59"
    assert formats.day("2027-06-30T22:00:00Z") == "2027-07-01 00:00"
    assert formats.day("2028-02-29T12:00:00.1234567+01:00") == "2028-02-29 12:00"


@pytest.mark.parametrize(("moment", "shown"), [
    ("2026-10-25T00:30:00Z", "2026-10-25 02:30 sommartid"),
    ("2026-10-25T01:30:00Z", "2026-10-25 02:30 vintertid"),
    ("2026-10-25T02:30:00+02:00", "2026-10-25 02:30 sommartid"),
    ("2026-10-25T02:30:00+01:00", "2026-10-25 02:30 vintertid"),
    ("2026-10-25T00:00:00Z", "2026-10-25 02:00 sommartid"),  # the repeated hour's first minute, first time
    ("2026-10-25T00:59:59Z", "2026-10-25 02:59 sommartid"),
    ("2026-10-25T01:00:00Z", "2026-10-25 02:00 vintertid"),
    ("2026-10-25T01:59:59Z", "2026-10-25 02:59 vintertid"),
    ("2026-10-25T00:30:00", "2026-10-25 02:30 sommartid"),  # no offset: UTC's, as the time shown is read
    ("2026-10-24T23:59:59Z", "2026-10-25 01:59"),  # the hour before and after: once each, as they stand
    ("2026-10-25T02:00:00Z", "2026-10-25 03:00"),
    ("2027-03-28T01:30:00Z", "2027-03-28 03:30"),  # March's missing hour: nothing repeated
    ("2026-06-01T12:00:00Z", "2026-06-01 14:00"),
])
def test_the_repeated_hour_of_the_last_sunday_of_october_names_summer_or_winter_time(moment: str, shown: str) -> None:
    """Two instants an hour apart both read 02:30 on the last Sunday of October in Swedish time: the dashboard named
    both "2026-10-25 02:30" (failed on the old code: no way to tell them apart). Now a time in that hour says which
    time it is (sommartid, then vintertid); every other time is shown as before."""
    assert formats.day(moment) == shown
    assert formats.day(datetime.fromisoformat(moment.replace("Z", "+00:00"))) == shown


def test_the_chain_starts_at_the_finest_level_the_roles_may_read_unless_a_level_is_picked():
    from styrkedja_dashboard.chain.routes import default_level, filters
    from styrkedja_dashboard.web.sessions import Session
    from styrkedja_kit.auth import principal_from_claims

    def session(*roles: str) -> Session:
        claims = {"sub": "u-1", "roles": list(roles), "organisers": ["2120000142"]}
        return Session("s", "c", 0.0, principal=principal_from_claims(claims))

    def level(s: Session, niva: str | None = None) -> str:
        return default_level(s, filters(niva=niva)).niva

    assert level(session("politician")) == "area"  # may not read school units: the areas, not a refusal
    assert level(session("organiser_admin")) == "school_unit"
    assert level(session("politician", "organiser_admin")) == "school_unit"
    assert level(session("politician"), "school_unit") == "school_unit"  # a picked level stays (the service refuses)
    assert filters(niva=None).query() == filters(niva="school_unit").query()


def test_the_organiser_a_page_names_is_the_tokens_in_any_spelling():
    """`?huvudman=2120000142` on a token for 212000-0142 (the kit keeps claims in one spelling) is that
    organiser. Failed on the old code: the page compared the spellings as typed, a 403 for one's own organiser.
    One rule for every page (`organiser_of`): the chain's and LIKA's pages had copies of their own."""
    import pytest
    from fastapi import HTTPException

    from styrkedja_dashboard.chain.routes import filters
    from styrkedja_dashboard.web.pages import organiser_of
    from styrkedja_dashboard.web.sessions import Session
    from styrkedja_kit.auth import principal_from_claims

    claims = {"sub": "u-1", "roles": ["organiser_admin"], "organisers": ["2120000142"]}
    session = Session("s", "c", 0.0, principal=principal_from_claims(claims))
    for spelling in ("2120000142", "212000-0142", "162120000142"):
        assert organiser_of(session, spelling) == "212000-0142"
        assert organiser_of(session, filters(huvudman=spelling).huvudman) == "212000-0142"
    assert organiser_of(session, None) == organiser_of(session, "") == "212000-0142"
    with pytest.raises(HTTPException) as refused:
        organiser_of(session, "2120000143")
    assert refused.value.status_code == 403 and "behörighet" in refused.value.detail
    without = Session("s", "c", 0.0, principal=principal_from_claims({**claims, "organisers": []}))
    with pytest.raises(HTTPException) as refused:
        organiser_of(without, None)
    assert refused.value.status_code == 403 and refused.value.detail == "Din inloggning saknar huvudman."
