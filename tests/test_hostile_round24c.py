"""Hostile inputs, round 24 (c): the HTTP routes of the assessment, forecast and LIKA services and the kit's write
path — lists given twice over, revisions at a database integer's end, identical content compared in another order,
dates a service computes, lengths counted before forming, a retry of a final step, a spreadsheet's escapes.

Found and fixed (each test failed on the old code, as said at it):
- An assessment's `unmet_criteria` and a plan's `criteria_codes` took a value twice (stored, sent on, counted twice by
  any reader): now a 422 naming the list and `unique` (the kit's `UniqueItems`, `uniqueItems` in the schema; text
  compared in its one form, so "Å" composed and decomposed are one). And such a list sent again in another order (a
  client building it from a set) was a new revision and event each time: now the same content (the kit's
  `same_content`) (services/assessment/tests/integration/test_hostile_round24c.py).
- A revision of 2147483647 was taken, and the record could then be neither revised nor retracted (its next revision
  fits no database integer: a 422 on `body`). Now a revision a sender names is at most the contracts'
  `MAX_NAMED_REVISION` (a database integer less 2^20) on every revisable write (assessment, plan, support, forecast,
  calendar, removals); one stored above it before is a 409 `revisions_exhausted` naming `revision` — the kit's
  `following_revision`, which the calendar and LIKA's action plan number by too (a 500 there) (both services'
  test_hostile_round24c.py; the checked-once tests of assessment and forecast).
- A calendar stored in another order than the one kept since round 23c took a second revision and event on its next
  identical PUT; and the same calendar under the lock of its next revision (`"revision": current + 1`: a client saving
  the form as it stands) made a new revision and event each time. Now compared in its one order
  (`ReportingCalendar.canonical`) and unchanged (services/forecast/tests/integration/test_hostile_round24c.py).
- A calendar stored before its time zone was held to an IANA zone (`posix/…`, `localtime`), or naming one this host's
  zone data lacks, failed validation on every read: its GET, every forecast of the organiser and the PUT that would
  mend it were 500s. Now read as the zone it copies, else Swedish time; the next PUT stores a taken one.
- A forecast whose window deadline falls after 2199 (school year 2199/00 on, or 2198/99 under late weeks and grace
  days) was stored with a `forecast.submitted.v1` no consumer decodes (`date_range`: the fast path does not validate
  the dates it computes; reporting dead-lettered it, the forecast never counted). Now a 422 naming `school_year`.
- A LIKA action plan's owner of 100 characters that NFC makes 200 (U+0958) passed the length rule and failed in the
  database (500): its length is now counted formed, as stored (services/lika/tests/integration/
  test_hostile_round24c.py, as the next three).
- A LIKA self-assessment imported again with its ratings in another order (a tool building them from a map) was a
  409 `published_is_final`: now unchanged (ratings compared by indicator).
- An action-plan activity stored before a rule of today's event (a tag with a zero-width space) made every edit of
  the published plan a 422 naming `action_plan` and `tags.0`, whichever activity was edited: now a 409 naming that
  activity and its field (`items.<activity_id>.tags.0`); editing it mends it.
- A comment holding `_x0041_` was written to the xlsx as it is, which Excel and LibreOffice show as "A": the export
  that keeps comments showed another one. Now its underscore is escaped (`_x005F_`).
- The same publish (or keep-private) again — a retry after a timeout — was a 409 `final` ("start a new
  self-assessment"), telling a client whose publish had succeeded that it had not: now answered as the first.
- A draft's default day and a plan's default start term were UTC's: at 00:30 on 1 July in Sweden a draft was dated
  30 June and its plan started in the spring term just over. Now Sweden's (the contracts' default calendar's zone).

Tried and held: LIKA saves and imports with personnummer, NUL, bidi or noncharacters in ids, ratings and comments;
action-plan edits clearing, repeating or over-long tags, notes and dates outside 1900–2199; comparisons of drafts,
of two school forms, of self-assessments rated all not relevant; a start term of HT 2199/00; forecasts of 1900/01 and
of extreme calendars (week 52, Sunday, 60 grace days, UTC+14); the OpenAPI fuzz of the three services.
Left by the sweep, then fixed (the last tests of the three services' test_hostile_round24c.py):
- An assessment of 2199/00 and a plan of any school year to 9998/99 were taken where a forecast of it was refused:
  now one bound for every school year a request names, 1900/01–2198/99 (its days in the years every date may have;
  the kit's `SchoolYearIn`, the contracts' `school_year_within_years`), a 422 `date_range` naming `school_year`; LIKA's
  start term too (`VT 2199/00` was taken). The events keep their own rule (one sent before still decodes).
- A VT window (or round deadline) could be set in December and an HT one in January: now each week lies in its term
  (the contracts' `TERM_WEEKS`, HT 27–52, VT 1–26) at the calendar's PUT, a 422 `week_in_term` naming it; a calendar
  stored before is read as it is.
- A new support intervention or plan sent again without its id (a retry) was a second record: now an optional
  `Idempotency-Key` makes a new record's id (the kit's `idempotency`, `RecordRoutes.keyed`): the same request again is
  the first record (200 `unchanged`, `Idempotent-Replayed: true`), the same key with another body a 409 naming the
  header. Without a key, still "give your own id"; the batch doors take no key.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from styrkedja_contracts.events.base import MAX_INT4, MAX_NAMED_REVISION
from styrkedja_contracts.events.calendar import ForecastWindow, ReportingCalendar, RoundDeadline
from styrkedja_contracts.identifiers import Term
from styrkedja_kit.inputs import InputModel, Revision, UniqueItems
from styrkedja_kit.revisions import following_revision
from styrkedja_kit.rules import RuleViolation


class _Body(InputModel):
    codes: UniqueItems[str] = []
    revision: Revision | None = None


def test_a_value_twice_in_a_unique_list_is_named_by_the_list_and_rule():
    with pytest.raises(ValidationError) as refused:
        _Body.model_validate({"codes": ["a", "b", "a\u0301", "á"]})
    assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [(("codes",), "unique")]
    assert "repeats item 2" in refused.value.errors()[0]["msg"]
    assert _Body.model_json_schema()["properties"]["codes"]["uniqueItems"] is True


def test_a_named_revision_leaves_room_for_the_revisions_after_it():
    assert _Body.model_validate({"revision": MAX_NAMED_REVISION}).revision == MAX_NAMED_REVISION
    with pytest.raises(ValidationError):
        _Body.model_validate({"revision": MAX_NAMED_REVISION + 1})
    assert following_revision(MAX_NAMED_REVISION) == MAX_NAMED_REVISION + 1
    with pytest.raises(RuleViolation) as exhausted:
        following_revision(MAX_INT4)
    assert (exhausted.value.field, exhausted.value.rule, exhausted.value.status) == ("revision",
                                                                                     "revisions_exhausted", 409)


def test_a_calendar_is_the_same_calendar_in_any_order():
    windows = (ForecastWindow(term=Term.VT, iso_week=12), ForecastWindow(term=Term.HT, iso_week=44))
    deadlines = (RoundDeadline(round=3, term=Term.VT, iso_week=10), RoundDeadline(round=1, term=Term.HT, iso_week=40))
    stored = ReportingCalendar(forecast_windows=windows, round_deadlines=deadlines)
    sent = ReportingCalendar(forecast_windows=windows[::-1], round_deadlines=deadlines[::-1])
    assert stored != sent and stored.canonical() == sent.canonical() == sent
