"""Hostile inputs, round 17 (b): the two rules round 17 found missing, probed across the services.

Found and fixed (each test failed on the old code, as said at it):
- An assessment dated years ahead (the years allow 2199) was taken at the door and from the topic, and kept its
  school unit's freshness (the age of its newest assessment) green for as long. Now `assessed_on` lies in its
  `school_year` (1 July - 30 June, the contracts' `within_school_year`; plans use the same bounds): a 422 naming
  `assessed_on` and `within_school_year`; an event produced straight to the topic is dead-lettered
  (`invalid_data`, the message naming `assessed_on`) by the live consumer's decode and by the rebuild's, its direct
  lines too. Forecasts carry no date of the caller's (`window_deadline` is the calendar's, `submitted_at` the
  clock's), support interventions no school year: nothing to judge there.
- Names of invisible or empty text: a unit, area, group or duty name, an owner, a tag or a plan title took
  zero-width characters, joiners, direction marks, U+2028/2029, or only spaces: "Skola" and "Sk\\u200bola" look the
  same and were two. Now refused in names (`no_invisible_characters`, `not_blank`; the contracts' `Name`), at the
  directory's door, in its events and in the SS 12000 import alike. Free text (comments, criteria, reasons,
  notes) keeps them: it is read, never compared, and needs them (emoji sequences, Persian spelling, mixed
  Arabic and Swedish).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from inprocess import ORGANISER, auth

from styrkedja_cli.ss12000.mapping import plan
from styrkedja_cli.ss12000.models import Organisation
from styrkedja_contracts import ContractError, decode_event
from styrkedja_contracts.examples import example_bytes
from styrkedja_reporting.rebuild.bulk import decoded_and_staged

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ASSESSMENT = {"organiser_id": ORGANISER, "school_unit_code": "29990011", "group_id": "7A", "student_id": "stu-17b",
              "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01", "kind": "assessment",
              "scale": "AF", "value": "C", "school_year": "2026/27", "term": "HT", "round": 1,
              "assessed_on": "2026-11-02"}
INVISIBLE_NAMES = {"Sk\u200bola": "no_invisible_characters", "Skola\u2060": "no_invisible_characters",
                   "\ufeffSkola": "no_invisible_characters", "Sko\u200dla": "no_invisible_characters",
                   "Skola\u200f": "no_invisible_characters", "Sk\u2028ola": "no_invisible_characters",
                   "   ": "not_blank", "\u3000": "not_blank"}


def _client(service: Any, token_issuer: Any) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=300)


def _rules(answer: httpx.Response) -> list[tuple[str, str]]:
    return [(e["field"], e["rule"]) for e in answer.json()["errors"]]


def test_an_assessment_outside_its_school_year_is_refused_at_the_door_naming_the_field_and_the_rule(
        running, token_issuer):
    """Failed on the old code: 2031-10-01 and 2199-12-31 in the school year 2026/27 were stored (201)."""
    name, service = running
    if name != "assessment":
        pytest.skip("the assessment service's door")
    with _client(service, token_issuer) as client:
        for day in ("2031-10-01", "2199-12-31", "2026-06-30", "2027-07-01"):
            one = client.post("/v1/assessments", json={**ASSESSMENT, "assessed_on": day})
            assert one.status_code == 422 and _rules(one) == [("assessed_on", "within_school_year")], one.text
            batch = client.post("/v1/assessments/batch", json={"items": [
                {**ASSESSMENT, "student_id": "stu-17b-2"}, {**ASSESSMENT, "assessed_on": day}]})
            assert batch.status_code == 422 and _rules(batch) == [("items.1.assessed_on", "within_school_year")], \
                batch.text
        kept = client.post("/v1/assessments", json={**ASSESSMENT, "assessed_on": "2027-06-30"})
        assert kept.status_code == 201, kept.text


def _record(offset: int, doc: dict[str, Any]) -> tuple[Any, ...]:
    value = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    return ("styrkedja.assessments", 0, offset, value, int(datetime(2026, 11, 25, tzinfo=UTC).timestamp() * 1000),
            doc["data"]["organiser_id"].encode(), None)


def test_an_assessment_produced_years_ahead_is_dead_lettered_by_the_live_decode_and_the_rebuilds_alike():
    """An event produced straight to the topic by others: the live consumer's decode (`decode_event`) and the
    rebuild's, by its rows and by its direct COPY lines, refuse it with the same reason, and take the same event in
    its school year. Failed on the old code: all three took it (and the rebuild wrote its line)."""
    base = json.loads(example_bytes("se.styrkedja.assessment.published.v1"))
    docs = []
    for n, (day, criterion) in enumerate([("2026-11-02", "Tal"), ("2199-01-01", "Tal"), ("2031-10-01", "Tal – bråk"),
                                          ("2026-06-30", "Tal")]):
        data = {**base["data"], "assessment_id": str(uuid.UUID(int=n + 1)), "assessed_on": day, "value": "F",
                "unmet_criteria": [criterion]}  # an en dash: not plain text, so not the fast path
        docs.append({**base, "id": str(uuid.UUID(int=100 + n)), "data": data})
    raw = [_record(n, doc) for n, doc in enumerate(docs)]
    for n, record in enumerate(raw):
        value = record[3]
        if n == 0:
            assert decode_event(value).data.assessed_on.isoformat() == "2026-11-02"  # type: ignore[attr-defined]
            continue
        with pytest.raises(ContractError) as caught:
            decode_event(value)
        assert caught.value.reason == "invalid_data" and "assessed_on: must lie in school year 2026/27" in \
            str(caught.value), caught.value
    for as_text in (False, True):
        staged = decoded_and_staged(raw, 0, 64_000, as_text=as_text)
        assert staged.read == 1 and sorted(d[0] for d in staged.dead) == [1, 2, 3], (as_text, staged.dead)
        assert all("invalid_data" in repr(d) and "assessed_on" in repr(d) for d in staged.dead), staged.dead


def test_a_directory_name_of_invisible_or_empty_text_is_refused_at_the_door(running, token_issuer):
    """Failed on the old code: every one of these unit names was published (a second "Skola" beside the first)."""
    name, service = running
    if name != "reporting":
        pytest.skip("the directory's door (the contracts' `Name`, alike for every name of an event)")
    base = json.loads(example_bytes("se.styrkedja.organisation.unit_upserted.v1"))["data"]
    base = {**base, "organiser_id": ORGANISER}
    with _client(service, token_issuer) as client:
        for text, rule in INVISIBLE_NAMES.items():
            answer = client.post("/v1/directory/changes", json={"items": [
                {"type": "se.styrkedja.organisation.unit_upserted.v1", "data": {**base, "name": text}}]})
            assert answer.status_code == 422 and _rules(answer) == [("items.0.data.name", rule)], answer.text


def test_the_ss12000_import_refuses_a_display_name_of_invisible_or_empty_text_naming_it():
    """The import maps displayName to the directory's name and judges it by the contract: such a unit is refused on
    its own (the rest is sent). Failed on the old code: "Sk\\u200bola" was sent as a second school unit."""
    huvudman = {"id": "huv", "displayName": "Kommunen", "organisationType": "Huvudman", "municipalityCode": "2999"}
    units = [{"id": f"su{n}", "displayName": text, "organisationType": "Skolenhet", "schoolUnitCode": f"299900{n:02d}",
              "parentOrganisation": {"id": "huv"}} for n, text in enumerate(["Skola", *INVISIBLE_NAMES])]
    made = plan([Organisation.model_validate(o) for o in [huvudman, *units]], [], [], [], [],
                naive_zone=ZoneInfo("Europe/Stockholm"), now=datetime(2026, 9, 1, tzinfo=UTC), organiser=None)
    sent = {c["source_id"] for c in made.changes.get("organisations", [])}
    assert sent == {"huv", "su0"}, sent
    refused = {r.id: r.reason for r in made.refused}
    assert set(refused) == {f"su{n}" for n in range(1, len(INVISIBLE_NAMES) + 1)}, refused
    assert all("displayName" in reason or "name" in reason for reason in refused.values()), refused
