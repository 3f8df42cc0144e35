"""Hostile inputs, round 28 (t): calendar time at its edges, at every door — event contracts, the HTTP bodies and
queries of the four services, and the rules that derive a day or a school year from a moment.

Found and fixed (each test failed on the old code, as said at it):
- A date field of a body or an event (`assessed_on`, a support intervention's `start_date`, a directory period, a
  LIKA draft's day, …) took a date-time at midnight as its date: `2026-11-02T00:00:00+14:00` was stored as 2
  November, the day in an offset Sweden never has (1 November there), and `…T00:00:00Z`, `…T00:00` likewise; a
  date-time field took ISO 8601's forms that RFC 3339 (and the schemas' `format: date-time`) refuse: a space for the
  `T`, an offset without its colon (`+0100`), no seconds (`10:00Z`), a decimal comma. Every query parameter has
  refused them since round 22. Now one rule at every door (the contracts' `date_as_text`, `datetime_as_text`: 422
  `date_format` / `datetime_format` naming the field; an event dead-lettered as `invalid_data` by the live decode and
  the rebuild's alike). A fraction of any length is RFC 3339's and .NET's (seven digits): taken (microseconds kept)
  in bodies and events as before, and now in queries too, which refused it (packages/contracts/tests/
  test_input_safety.py, packages/kit/tests/test_input_safety.py, packages/kit/tests/test_parameters.py).
- A forecast's `submitted_on` (reporting's forecast-against-outcome: a result counts as the outcome when assessed
  strictly after it) was UTC's day of `submitted_at`: a forecast sent at 00:30 in Sweden was a day early, and a
  result assessed that same Swedish day counted as its later outcome. Now its day in Sweden, live and in the
  rebuild's direct lines (services/reporting/tests/unit/test_submitted_day.py; round 25b's test now expects it).
- Reporting's support figures counted open investigations to the UTC date (the summary and the table): between
  midnight and 01:00/02:00 in Sweden an investigation just past its weeks was not counted. Now `school_today`
  (services/reporting/tests/integration/test_support.py).
- Reporting's audit trail took `until` before `since` and answered an empty list, as if no one had read anything;
  now a 422 naming `until` (`not_before_since`), compared as instants: `until=2026-10-25T02:30:00+02:00` is before
  `since=2026-10-25T02:30:00+01:00` (the repeated hour of the last Sunday of October). Equal bounds are an empty
  window, answered as one.
- A producer's clock in 2099: an event whose data is dated far ahead (`updated_at`, `removed_at`, `published_at`, …)
  with a true envelope `time` was applied — only `time` was judged against the record (`time_in_future`). The
  directory keeps the change of the newest `updated_at` and reporting's LIKA the self-assessment of the newest
  `published_at`, so such an event hid every later change until 2099. Now each date-time of the data is judged as
  `time` is, live and rebuilt alike (the kit's `ahead_of_record`, packages/kit/tests/test_consumer_verdicts.py). At
  reporting's directory door such a change (`updated_at`, a removal's `removed_at`) was `created`, and every later
  true change of the entity answered `unchanged` (seen: a unit renamed after a 2099 change kept its name): now a 422
  naming it (`not_in_future`); the SS 12000 import refuses such an item on its own, naming `meta.modified`
  (packages/cli/tests/test_ss12000_dated_ahead.py). The contracts' example `entity_removed` was itself ten months
  ahead of its `time`.
- The import's `--since` without an offset in the missing hour (02:30 on the last Sunday of March) was 01:30 UTC
  (03:30 summer time): what changed from 03:00 to 03:30 was not read. Now the earliest instant the local time can
  mean, in UTC (in the repeated hour: its first time) (packages/cli/tests/test_ss12000_dated_ahead.py).
- LIKA's draft took `assessed_on` in any year to 2199: a self-assessment of 2199-12-31 is of the school year 2199/00,
  which no read's `school_year` may name, and never of the current year's compilation. Now at the latest today in
  Sweden, a 422 naming it (`not_in_future`) (services/lika/tests/integration/test_lika_tool.py).
- The dashboard showed a moment whose Swedish time lies past the calendar's ends (`9999-12-31T23:59:59-14:00` from
  upstream) as an OverflowError, a 500 page: now as sent (services/dashboard/tests/test_views.py).

Tried and held: 29 February of a leap year taken, of another year refused naming the field; 23:59:60 and 24:00:00
refused naming the field; offsets +14:00, -12:00, +05:45, `Z`, `z`, `-00:00`, `+00:00` read as the same instant; a
naive time refused where a moment is wanted; years before 1900 and after 2199 refused (`date_range`, round 22);
30 June 23:59:59.999999 and 1 July 00:00 in Sweden (22:00 UTC on 30 June) in different school years (LIKA's
`school_year_about`, the contracts' `school_year_of`, the ss12000 import's Stockholm day of a date-time); forecast
lateness by the deadline's day in the organiser's zone across both DST changes (the day has 23 or 25 hours: the
last on-time moment is 23:59:59.999999 local, whatever the hour count — forecast's test_calendar_rules); the
freshness bands in calendar months from 29 February and 31 August; directory changes ordered by instant
(`updated_at` compared as timestamps, the same instant in two offsets is one); an alert's `changed_at` as read
compared by instant.

Left as they are (reported): a naive SS 12000 time in the repeated hour is read as its first time (the source's
ambiguity, said). Left here and mended in round 28u (tests/test_hostile_round28u.py): a LIKA event whose
`assessed_on` is after its `published_at`'s day, a support intervention event whose `evaluation_date` is not after
its `start_date` (and a plan's event published after its school year) were applied; the dashboard showed 02:30 twice
on the last Sunday of October for two instants.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from inprocess import ORGANISER, auth

from styrkedja_contracts import ContractError, decode_event
from styrkedja_contracts.examples import example_bytes
from styrkedja_contracts.identifiers import school_year_of
from styrkedja_reporting.lika.rules import school_year_of as lika_school_year_of
from styrkedja_reporting.rebuild.bulk import decoded_and_staged

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

SWEDEN = ZoneInfo("Europe/Stockholm")
ASSESSMENT = {"organiser_id": ORGANISER, "school_unit_code": "29990011", "group_id": "7A", "student_id": "stu-28t",
              "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01", "kind": "assessment",
              "scale": "AF", "value": "C", "school_year": "2026/27", "term": "HT", "round": 1,
              "assessed_on": "2026-11-02"}
INTERVENTION = {"organiser_id": ORGANISER, "school_unit_code": "29990011", "group_id": "7A", "student_id": "stu-28t",
                "subject_code": "GRGRMAT01", "kind": "extra_adjustment", "status": "decided",
                "start_date": "2026-09-01", "evaluation_date": "2026-11-01", "decided_by_role": "teacher",
                "decided_by": "t-1", "decided_on": "2026-09-01", "description": "Lugn miljö"}
#: a date written as a date-time at midnight: each was taken as its date before (`+14:00`: another day in Sweden)
DATE_TIMES_AS_DATES = ["2026-11-02T00:00:00+14:00", "2026-11-02T00:00:00Z", "2026-11-02T00:00", "2026-11-02T00:00:00"]
#: ISO 8601's forms of a moment RFC 3339 refuses: each was taken before
NOT_RFC_3339 = ["2026-11-02 10:00:00Z", "2026-11-02T10:00:00+0100", "2026-11-02T10:00Z", "2026-11-02T10:00:00,5Z"]


def _client(service: Any, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers=headers, timeout=300)


def _rules(answer: httpx.Response) -> list[tuple[str, str]]:
    return [(e["field"], e["rule"]) for e in answer.json()["errors"]]


def test_a_date_written_as_a_date_time_is_refused_at_every_write_door_naming_the_field(running, token_issuer):
    """The assessment service's assessments (single and batch) and support interventions, LIKA's drafts, reporting's
    directory: a date field given a date-time is a 422 `date_format` naming it, a date-time field given ISO 8601's
    other forms a 422 `datetime_format`; the date itself is taken, and so is a leap day of a leap year. Failed on the
    old code: each hostile value was stored (201 or 200), as the day in the offset it was written with."""
    name, service = running
    with _client(service, auth(token_issuer)) as client:
        if name == "assessment":
            for value in DATE_TIMES_AS_DATES:
                one = client.post("/v1/assessments", json={**ASSESSMENT, "assessed_on": value})
                assert one.status_code == 422 and _rules(one) == [("assessed_on", "date_format")], (value, one.text)
                batch = client.post("/v1/assessments/batch", json={"items": [
                    {**ASSESSMENT, "student_id": "stu-28t-2"}, {**ASSESSMENT, "assessed_on": value}]})
                assert batch.status_code == 422 and _rules(batch) == [("items.1.assessed_on", "date_format")], \
                    batch.text
                support = client.post("/v1/support-interventions", json={**INTERVENTION, "start_date": value})
                assert support.status_code == 422 and _rules(support) == [("start_date", "date_format")], \
                    support.text
            leap = client.post("/v1/assessments", json={**ASSESSMENT, "school_year": "2027/28", "term": "VT",
                                                        "assessed_on": "2028-02-29"})
            assert leap.status_code == 201, leap.text
            not_leap = client.post("/v1/assessments", json={**ASSESSMENT, "school_year": "2026/27", "term": "VT",
                                                            "assessed_on": "2027-02-29"})
            assert not_leap.status_code == 422 and [f for f, _ in _rules(not_leap)] == ["assessed_on"], not_leap.text
        elif name == "lika":
            draft = {"organiser_id": ORGANISER, "school_unit_code": "29990011", "school_form": "grundskola",
                     "respondent_role": "rektor", "catalogue_version": "2026.2"}
            for value in DATE_TIMES_AS_DATES:
                got = client.post("/v1/self-assessments", json={**draft, "assessed_on": value})
                assert got.status_code == 422 and _rules(got) == [("assessed_on", "date_format")], (value, got.text)
            made = client.post("/v1/self-assessments", json={**draft, "assessed_on": "2024-02-29"})
            assert made.status_code == 201 and made.json()["assessed_on"] == "2024-02-29", made.text
            ahead = client.post("/v1/self-assessments", json={**draft, "assessed_on": "2199-12-31"})
            assert ahead.status_code == 422 and _rules(ahead) == [("assessed_on", "not_in_future")], ahead.text
        elif name == "reporting":
            base = json.loads(example_bytes("se.styrkedja.organisation.unit_upserted.v1"))["data"]
            base = {**base, "organiser_id": ORGANISER}
            for value in NOT_RFC_3339:
                got = client.post("/v1/directory/changes", json={"items": [
                    {"type": "se.styrkedja.organisation.unit_upserted.v1", "data": {**base, "updated_at": value}}]})
                assert got.status_code == 422 and _rules(got) == [("items.0.data.updated_at", "datetime_format")], \
                    (value, got.text)
        else:
            pytest.skip("the forecast service's bodies carry no date or time of the caller's (the calendar names "
                        "weeks and weekdays; a forecast's times are the clock's)")


def test_the_audit_trail_refuses_a_window_ending_before_it_starts_compared_as_instants(running, token_issuer):
    """`until` before `since` is a 422 naming `until`, judged by instant: 02:30 in the repeated hour of 25 October
    2026 written +02:00 (00:30 UTC) is before 02:30 written +01:00 (01:30 UTC). Equal bounds: an empty window, 200.
    Failed on the old code: a 200 with an empty list, as if no one had read anything."""
    name, service = running
    if name != "reporting":
        pytest.skip("reporting's audit trail")
    token = token_issuer.mint(roles=["organiser_admin"], organisers=[ORGANISER], subject="round28t",
                              client_id="round28t")
    with _client(service, {"Authorization": f"Bearer {token}"}) as client:
        swapped = client.get("/v1/audit/reads", params={"organiser_id": ORGANISER,
                                                        "since": "2026-10-25T02:30:00+01:00",
                                                        "until": "2026-10-25T02:30:00+02:00"})
        assert swapped.status_code == 422 and _rules(swapped) == [("until", "not_before_since")], swapped.text
        for since, until in (("2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00"),  # an hour, by instant
                             ("2026-10-25T01:30:00Z", "2026-10-25T02:30:00+01:00")):  # one instant: empty
            fine = client.get("/v1/audit/reads", params={"organiser_id": ORGANISER, "since": since, "until": until})
            assert fine.status_code == 200 and fine.json() == [], fine.text


def test_a_directory_change_dated_ahead_of_the_clock_is_refused_and_hides_no_later_change(running, token_issuer):
    """Reporting's directory keeps the newest change by `updated_at` (`removed_at`): a change dated 2099 by a source's
    wrong clock is a 422 naming it (`not_in_future`), and the same unit's later change with a true time is taken.
    Failed on the old code: the 2099 change was `created`, and the true one after it answered `unchanged` (older than
    what the directory held) — every later change of the unit hidden until 2099. Within the consumer's skew (an hour)
    a change is taken."""
    name, service = running
    if name != "reporting":
        pytest.skip("reporting's directory")
    unit = {"organiser_id": ORGANISER, "unit_id": "area-28t", "unit_type": "area", "parent_id": ORGANISER,
            "name": "Område 28t"}
    now = datetime.now(UTC)
    with _client(service, auth(token_issuer)) as client:
        def change(data: dict[str, Any]) -> httpx.Response:
            return client.post("/v1/directory/changes", json={"items": [
                {"type": "se.styrkedja.organisation.unit_upserted.v1", "data": data}]})

        ahead = change({**unit, "updated_at": "2099-01-01T00:00:00Z"})
        assert ahead.status_code == 422 and _rules(ahead) == [("items.0.data.updated_at", "not_in_future")], \
            ahead.text
        true = change({**unit, "updated_at": now.isoformat()})
        assert true.status_code == 200 and true.json()["created"] == 1, true.text
        later = change({**unit, "name": "Område 28t två", "updated_at": (now + timedelta(minutes=50)).isoformat()})
        assert later.status_code == 200 and later.json()["changed"] == 1, later.text
        removal = client.post("/v1/directory/removals", json={"source_ids": ["area-28t"],
                                                              "removed_at": "2099-01-01T00:00:00+14:00"})
        assert removal.status_code == 422 and _rules(removal) == [("removed_at", "not_in_future")], removal.text


def _assessment_record(offset: int, doc: dict[str, Any]) -> tuple[Any, ...]:
    value = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    return ("styrkedja.assessments", 0, offset, value, int(datetime(2026, 11, 25, tzinfo=UTC).timestamp() * 1000),
            doc["data"]["organiser_id"].encode(), None)


@pytest.mark.parametrize("plain", [True, False], ids=["fast path", "ordinary path"])
def test_an_event_with_a_date_or_time_in_another_form_is_dead_lettered_by_the_live_decode_and_the_rebuild(
        plain: bool) -> None:
    """An event produced straight to the topic with `assessed_on` as a date-time, or `published_at` or the
    envelope's `time` in a form RFC 3339 refuses: the live consumer's decode and the rebuild's (by rows and by its
    direct COPY lines) refuse each alike, naming the field; the same event in RFC 3339's forms (lower-case `t` and
    `z`, `-00:00`, +14:00, a nine-digit fraction) is taken. Failed on the old code: all were taken."""
    base = json.loads(example_bytes("se.styrkedja.assessment.published.v1"))
    criterion = "Tal" if plain else "Tal – bråk"  # an en dash: not plain text, so not the fast path
    hostile = [("assessed_on", v) for v in DATE_TIMES_AS_DATES] + [("published_at", v) for v in NOT_RFC_3339] \
        + [("time", v) for v in NOT_RFC_3339]
    taken = [("published_at", "2026-11-16t15:42:07.123456789z"), ("time", "2026-11-16T15:42:07-00:00"),
             ("published_at", "2026-11-17T04:42:07+14:00")]
    docs = []
    for n, (field, value) in enumerate([*taken, *hostile]):
        data = {**base["data"], "assessment_id": str(uuid.UUID(int=n + 1)), "value": "F",
                "unmet_criteria": [criterion]}
        doc = {**base, "id": str(uuid.UUID(int=1000 + n)), "data": data}
        (doc if field == "time" else data)[field] = value
        docs.append(doc)
    raw = [_assessment_record(n, doc) for n, doc in enumerate(docs)]
    for n, record in enumerate(raw):
        if n < len(taken):
            decode_event(record[3])
            continue
        field = hostile[n - len(taken)][0]
        with pytest.raises(ContractError) as caught:
            decode_event(record[3])
        assert caught.value.reason in ("invalid_data", "invalid_envelope") and field in str(caught.value), \
            caught.value
    for as_text in (False, True):
        staged = decoded_and_staged(raw, 0, 64_000, as_text=as_text)
        assert staged.read == len(taken), (as_text, staged.dead)
        assert sorted(d[0] for d in staged.dead) == list(range(len(taken), len(raw))), (as_text, staged.dead)


@pytest.mark.parametrize(("moment", "school_year"), [
    (datetime(2027, 6, 30, 23, 59, 59, 999999, tzinfo=SWEDEN), "2026/27"),
    (datetime(2027, 7, 1, 0, 0, tzinfo=SWEDEN), "2027/28"),
    (datetime(2027, 6, 30, 22, 0, tzinfo=UTC), "2027/28"),  # 00:00 on 1 July in Sweden (CEST)
    (datetime(2027, 6, 30, 21, 59, 59, tzinfo=UTC), "2026/27"),
    (datetime(2027, 7, 1, 10, 0, tzinfo=timezone(timedelta(hours=-12))), "2027/28"),
    (datetime(2027, 6, 30, 9, 59, tzinfo=timezone(timedelta(hours=-12))), "2026/27"),  # 23:59 in Sweden
    (datetime(2027, 7, 1, 11, 0, tzinfo=timezone(timedelta(hours=14))), "2026/27"),  # 23:00 on 30 June in Sweden
])
def test_the_school_year_of_a_moment_is_that_of_its_day_in_sweden(moment: datetime, school_year: str) -> None:
    """Reporting's LIKA rule (a self-assessment without `assessed_on`: the day of `published_at` in Sweden) and the
    contracts' rule of a day agree at the turn of the school year, whatever offset the moment is written with."""
    assert lika_school_year_of(moment) == school_year
    assert school_year_of(moment.astimezone(SWEDEN).date()) == school_year
    assert school_year_of(date(2027, 6, 30)) == "2026/27" and school_year_of(date(2027, 7, 1)) == "2027/28"
