"""Hostile inputs, round 28 (u): the leftovers of round 28t's calendar-time sweep — a rule between two dates that
an HTTP door holds, held by its event too, live and rebuilt alike.

Found and fixed (each test failed on the old code, as said at it):
- A support intervention's event (`support.intervention_recorded.v1`) whose `evaluation_date` is on or before its
  `start_date`, or of a kind the principal decides whose `start_date` is before its `decided_on`, was applied by
  reporting, while the assessment service's door refuses both (`evaluation_after_start` naming `evaluation_date`,
  `starts_after_decision` naming `start_date`). Now the contract refuses them with the door's words, naming the
  field: dead-lettered `invalid_data` by the live decode (its fast path and the ordinary one) and the rebuild's.
- A plan's event (`plan.published.v1`) published after its school year ended (`published_on` 1 July 2027 of
  2026/27) was applied; the door refuses it (`published_within_school_year`). Now the contract too.
- A LIKA self-assessment's event whose `assessed_on` is after the day of its `published_at` in Sweden was applied,
  counted in the school year of a day that had not come when it was published. The LIKA service dates a draft at
  the latest the day it is saved (round 28t) and now publishes no draft dated after the day it is published (a 409
  naming `assessed_on`: a draft saved before that rule, or a clock set back since; services/lika/tests/integration/
  test_lika_tool.py), so it never makes one: the contract refuses it, naming `assessed_on`. The day is Sweden's:
  published at 22:30 UTC on 30 June (00:30 on 1 July in Sweden) a self-assessment of 1 July is taken.

Looked at and left: the other events' two-date rules are held by their events already (a directory period's end not
before its start: reporting's directory door is the event model), or are no rule between two of an event's dates (a
forecast's `window_deadline` and `late` are the forecast service's own reckoning from a calendar the event does not
carry; a calendar's weeks in their terms are a rule of a calendar being set only, one stored before is read as it is).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from styrkedja_contracts import ContractError, decode_event
from styrkedja_contracts.envelope import decode_plain
from styrkedja_contracts.examples import example_bytes
from styrkedja_contracts.topics import topic_for_event_type
from styrkedja_reporting.rebuild.bulk import decoded_and_staged

SUPPORT = "se.styrkedja.support.intervention_recorded.v1"
PLAN = "se.styrkedja.plan.published.v1"
LIKA = "se.styrkedja.lika.self_assessment_published.v1"
#: the record's time: after every moment below (an event's moments are judged against it: `time_in_future`)
RECORDED = int(datetime(2027, 8, 1, tzinfo=UTC).timestamp() * 1000)

#: (event type, data changed, the field a refusal names or None where the event is taken)
CASES: list[tuple[str, dict[str, Any], str | None]] = [
    (SUPPORT, {"start_date": "2026-11-16", "evaluation_date": "2026-11-16"}, "evaluation_date"),
    (SUPPORT, {"start_date": "2026-11-16", "evaluation_date": "2026-11-15"}, "evaluation_date"),
    (SUPPORT, {"start_date": "2026-11-16", "evaluation_date": "2026-11-17"}, None),
    (SUPPORT, {"start_date": "2026-11-16", "evaluation_date": None}, None),
    (SUPPORT, {"start_date": "2026-11-16", "decided_on": "2026-11-17"}, "start_date"),
    # an extra adaptation may have started before it was recorded as decided: the door takes it, and so the event
    (SUPPORT, {"kind": "extra_adjustment", "decided_by_role": "teacher", "investigation_id": None,
               "start_date": "2026-11-16", "decided_on": "2026-11-17"}, None),
    (PLAN, {"school_year": "2026/27", "published_on": "2027-07-01", "recorded_at": "2027-07-01T08:00:00+02:00"},
     "published_on"),
    (PLAN, {"school_year": "2026/27", "published_on": "2027-06-30", "recorded_at": "2027-06-30T08:00:00+02:00"}, None),
    (PLAN, {"school_year": "2026/27", "published_on": "2026-05-04", "recorded_at": "2026-05-04T08:00:00+02:00"}, None),
    (LIKA, {"assessed_on": "2026-10-03"}, "assessed_on"),
    (LIKA, {"assessed_on": "2027-07-01", "published_at": "2027-06-30T21:59:59Z"}, "assessed_on"),
    (LIKA, {"assessed_on": "2027-07-01", "published_at": "2027-06-30T22:30:00Z"}, None),
    (LIKA, {"assessed_on": "2027-07-01", "published_at": "2027-07-01T10:00:00-12:00"}, None),
    (LIKA, {"assessed_on": None}, None),
]


def _record(offset: int, event_type: str, data: dict[str, Any], plain: bool) -> tuple[Any, ...]:
    doc = json.loads(example_bytes(event_type))
    doc = {**doc, "id": str(uuid.UUID(int=5000 + offset)), "data": {**doc["data"], **data}}
    value = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    if not plain:  # an escape: not plain text, so the ordinary decode, never the fast path
        value = value.replace(b'"specversion":"1.0"', b'"specversion":"1\\u002e0"', 1)
    return (topic_for_event_type(event_type).name, 0, offset, value, RECORDED, doc["data"]["organiser_id"].encode(),
            None)


@pytest.mark.parametrize("plain", [True, False], ids=["fast path", "ordinary path"])
def test_an_event_breaking_a_date_rule_of_its_door_is_dead_lettered_live_and_rebuilt_naming_the_field(
        plain: bool) -> None:
    """Each event the door's rule refuses is refused by the live decode naming the field (`invalid_data`), and
    dead-lettered by the rebuild (by rows and by its direct COPY lines); each it takes is taken, by the fast path
    where the type has one. Failed on the old code: every event was taken."""
    raw = [_record(n, event_type, data, plain) for n, (event_type, data, _) in enumerate(CASES)]
    for record, (event_type, data, field) in zip(raw, CASES, strict=True):
        if field is None:
            decode_event(record[3])
            if plain and event_type != LIKA:  # (a LIKA event has no shadow: nested ratings)
                assert decode_plain(record[3]) is not None, (event_type, data)
            continue
        with pytest.raises(ContractError) as caught:
            decode_event(record[3])
        assert caught.value.reason == "invalid_data" and f"data: {field}" in str(caught.value), caught.value
    refused = [n for n, (_, _, field) in enumerate(CASES) if field is not None]
    for as_text in (False, True):
        staged = decoded_and_staged(raw, 0, 64_000, as_text=as_text)
        assert sorted(d[0] for d in staged.dead) == refused, (as_text, staged.dead)
        assert staged.read == len(CASES) - len(refused), (as_text, staged.dead)


def test_the_door_and_the_event_say_the_same_words() -> None:
    """The assessment service's support and plan doors word their date rules as the contracts do (one text each)."""
    from styrkedja_assessment.plans.schemas import PlanIn
    from styrkedja_assessment.plans.service import check_plan
    from styrkedja_assessment.support.rules import Intervention, check_intervention
    from styrkedja_contracts.events.support import DeciderRole, InterventionKind, InterventionStatus

    found = check_intervention(Intervention(
        InterventionKind.investigation, InterventionStatus.decided, datetime(2026, 11, 16).date(),
        datetime(2026, 11, 16).date(), None, DeciderRole.principal, datetime(2026, 11, 17).date(), None))
    door = {(v.field, v.rule): v.message for v in found}
    assert set(door) == {("start_date", "starts_after_decision"), ("evaluation_date", "evaluation_after_start")}
    raw = _record(0, SUPPORT, {"start_date": "2026-11-16", "evaluation_date": "2026-11-16"}, True)[3]
    with pytest.raises(ContractError) as caught:
        decode_event(raw)
    assert "evaluation_date: " + door[("evaluation_date", "evaluation_after_start")] in str(caught.value)
    plan = {k: v for k, v in json.loads(example_bytes(PLAN))["data"].items() if k != "recorded_at"}
    violations = check_plan(PlanIn.model_validate({**plan, "title": "Bråk", "published_on": "2027-07-01"}))
    assert [(v.field, v.rule) for v in violations] == [("published_on", "published_within_school_year")]
    raw = _record(0, PLAN, {"published_on": "2027-07-01"}, True)[3]
    with pytest.raises(ContractError) as caught:
        decode_event(raw)
    assert "published_on: " + violations[0].message in str(caught.value)
