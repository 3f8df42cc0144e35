"""Hostile inputs, round 29 (r): an event from another producer holds every item rule its door holds — a sweep.

Events on Kafka come also from producers we don't write (other school platforms): reporting must refuse (dead-letter,
naming the field and the rule) an event that breaks a rule the HTTP door of its producing service refuses, or a figure
counts what the system forbids; and the rebuild must refuse the same. Round 28u made the two-date rules hold on events.
Each pure item rule is now written once, in the contracts (`events.rules.Broken`: `events.support.intervention_broken`,
`events.assessment.assessment_broken`, `events.plan.plan_broken`, the LIKA tag rules), and the door and the event's
model call the same function; `styrkedja_contracts.door_rules` says which event holds each rule a door can raise, or
why it is none of an event's, and a test here fails on a door rule in neither.

Found and fixed (door: the rule — event before → after; each test below failed on the old code, as said at it):
- assessment service, support interventions (`support.intervention_recorded.v1`): `decision_names_decider`,
  `decision_names_date`, `principal_decides`, `outcome_needs_evaluation`, `evaluated_needs_outcome`,
  `action_programme_needs_investigation`, `investigation_basis_kind` — applied by reporting (counted among the unit's
  active interventions, its action programmes) → dead-lettered `invalid_data` naming the field and the rule. Its two
  date rules (round 28u) now name their rule too.
- assessment service, assessments (`assessment.published.v1`): `term_grade_from_year_6` (a term grade of year 3) and
  `value_on_scale` in a subject of the anpassad grundskola (an F, a grade its scale does not give) — applied, counted
  among the unit's grades and below pass → dead-lettered. An unmet criterion saying nothing (`not_blank`: a criterion
  of spaces met `criteria_required_below_pass`) — applied → dead-lettered.
  `term_grade_on_af_scale`, `criteria_required_below_pass` and `within_school_year` were held already (in other words:
  now the door's words and the rule's name).
- assessment service, retractions (`assessment.retracted.v1`): a `reason` of spaces (`not_blank`) — applied →
  dead-lettered.
- LIKA, action plans (`lika.action_plan_changed.v1`): one tag in two cases ("IT", "it": the door folds case, as its
  filters and reporting's compilation read it) — applied → dead-lettered (`unique_tags`); the tag and indicator
  refusals name their rule (`tag_length`, `unique_tags`, `unique_indicator`).
- forecast service (`forecast.submitted.v1`, round 29r's gap mended after): a `forecast_id` that is not
  `forecast_id_for` its organiser, student, subject, school year and term (`derived_from_key`) — applied (reporting
  keys a forecast by its id: a second id for one student, subject and term counted twice) → dead-lettered
  (`events.forecast.forecast_id_broken`, the door's function too). The event takes the id of an organiser's spelling
  kept before identity1 (`2120001234`): the service's own events of then carry such ids.

Held before, looked at: a forecast's value (`value_on_scale`: the event's `Literal`), a LIKA self-assessment's ratings
(each indicator once, on the scale, a comment of at most 2,000 characters), the text rules, years, ids and size of
every event; reporting's directory door validates its items by the event models themselves.

Left (reported): a criterion or criteria code given twice (`unique`) is taken by the v1 events by an earlier decision
(their lists are sets, read once; reporting reads neither; packages/contracts/README.md "Lists that mean sets");
LIKA's catalogue rules (an indicator of the catalogue, its area, every indicator
rated) are the LIKA service's reference data, which the contracts do not hold.
"""

from __future__ import annotations

import ast
import enum
import importlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from sqlalchemy import select

from styrkedja_contracts import REGISTRY, ContractError, decode_event, forecast_id_for
from styrkedja_contracts.door_rules import EVERY_EVENT, HELD, NOT_HELD, NOT_ITEM_RULES
from styrkedja_contracts.envelope import decode_plain
from styrkedja_contracts.examples import example_bytes
from styrkedja_contracts.topics import topic_for_event_type
from styrkedja_reporting.rebuild.bulk import decoded_and_staged

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = "se.styrkedja.support.intervention_recorded.v1"
ASSESSMENT = "se.styrkedja.assessment.published.v1"
RETRACTED = "se.styrkedja.assessment.retracted.v1"
PLAN = "se.styrkedja.plan.published.v1"
LIKA = "se.styrkedja.lika.self_assessment_published.v1"
ACTION_PLAN = "se.styrkedja.lika.action_plan_changed.v1"
FORECAST = "se.styrkedja.forecast.submitted.v1"
#: the record's time: after every moment of the events below (an event's moments are judged against it)
RECORDED = int(datetime(2027, 8, 1, tzinfo=UTC).timestamp() * 1000)


def _example(event_type: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(example_bytes(event_type))["data"]
    return data


def _tags(tags: list[str]) -> dict[str, Any]:
    items = _example(ACTION_PLAN)["items"]
    return {"items": [{**items[0], "tags": tags}, *items[1:]]}


def _ratings(twice: str) -> dict[str, Any]:
    ratings = _example(LIKA)["ratings"]
    return {"ratings": [*ratings, {**ratings[0], "indicator_id": twice}]}


#: (event type, data changed, the field a refusal names, the rule it names) — each the door refuses by that rule
REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    (SUPPORT, {"decided_by_role": None}, "decided_by_role", "decision_names_decider"),
    (SUPPORT, {"decided_on": None}, "decided_on", "decision_names_date"),
    (SUPPORT, {"decided_by_role": "teacher"}, "decided_by_role", "principal_decides"),
    (SUPPORT, {"decided_on": "2026-11-17"}, "start_date", "starts_after_decision"),
    (SUPPORT, {"evaluation_date": "2026-11-16"}, "evaluation_date", "evaluation_after_start"),
    (SUPPORT, {"evaluation_outcome": "better"}, "evaluation_outcome", "outcome_needs_evaluation"),
    (SUPPORT, {"status": "evaluated"}, "evaluation_outcome", "evaluated_needs_outcome"),
    (SUPPORT, {"investigation_id": None}, "investigation_id", "action_programme_needs_investigation"),
    (SUPPORT, {"kind": "investigation"}, "investigation_id", "investigation_basis_kind"),
    (ASSESSMENT, {"kind": "term_grade", "year": 3}, "year", "term_grade_from_year_6"),
    (ASSESSMENT, {"subject_code": "GRSABIL01"}, "value", "value_on_scale"),  # an F in the anpassad grundskola
    (ASSESSMENT, {"value": "G"}, "value", "value_on_scale"),
    (ASSESSMENT, {"kind": "term_grade", "scale": "THREE_LEVEL", "value": "ACCEPTABLE", "unmet_criteria": []}, "scale",
     "term_grade_on_af_scale"),
    (ASSESSMENT, {"unmet_criteria": []}, "unmet_criteria", "criteria_required_below_pass"),
    (ASSESSMENT, {"unmet_criteria": ["  "]}, "unmet_criteria.0", "not_blank"),
    (ASSESSMENT, {"assessed_on": "2027-07-01"}, "assessed_on", "within_school_year"),
    (RETRACTED, {"reason": "   "}, "reason", "not_blank"),
    (PLAN, {"published_on": "2027-07-01", "recorded_at": "2027-07-01T08:00:00+02:00"}, "published_on",
     "published_within_school_year"),
    (ACTION_PLAN, _tags(["IT", "it"]), "items[0].tags", "unique_tags"),
    (ACTION_PLAN, _tags(["Nätverk", "NÄTVERK"]), "items[0].tags", "unique_tags"),
    (ACTION_PLAN, _tags(["n" * 41]), "items[0].tags", "tag_length"),
    (LIKA, _ratings("L1"), "ratings", "unique_indicator"),
    (LIKA, {"assessed_on": "2026-10-03"}, "assessed_on", "not_after_published"),
    # a second id for the example's student, subject and term (reporting keys a forecast by its id: counted twice)
    (FORECAST, {"forecast_id": str(uuid.UUID(int=29))}, "forecast_id", "derived_from_key"),
    (FORECAST, {"student_id": "stu-other"}, "forecast_id", "derived_from_key"),  # the id of another student's
]
#: events the doors take, beside the refused ones (each rule's edge): taken by the same decode
TAKEN: list[tuple[str, dict[str, Any]]] = [
    (SUPPORT, {}),
    (SUPPORT, {"kind": "extra_adjustment", "decided_by_role": "teacher", "investigation_id": None}),
    (SUPPORT, {"kind": "special_support", "investigation_id": None}),
    (SUPPORT, {"status": "proposed", "decided_by_role": None, "decided_on": None}),
    (SUPPORT, {"status": "evaluated", "evaluation_outcome": "better"}),
    (SUPPORT, {"status": "closed", "evaluation_outcome": None}),
    (ASSESSMENT, {}),
    (ASSESSMENT, {"kind": "term_grade", "year": 6}),
    (ASSESSMENT, {"subject_code": "GRSABIL01", "value": "E", "unmet_criteria": []}),
    (ASSESSMENT, {"unmet_criteria": ["Taluppfattning", "Geometri"]}),
    (RETRACTED, {"reason": None}),
    (PLAN, {"criteria_codes": ["MA9E1", "MA9E2"]}),
    # lists that mean sets: a repeat is taken, read once (`door_rules.NOT_HELD`)
    (ASSESSMENT, {"unmet_criteria": ["Taluppfattning", "Taluppfattning "]}),
    (PLAN, {"criteria_codes": ["MA9E1", "MA9E1"]}),
    (ACTION_PLAN, _tags(["IT", "natverk"])),
    (LIKA, {}),
    (FORECAST, {}),
    (FORECAST, {"term": "HT",
                "forecast_id": str(forecast_id_for("2999", "stu-2c81d4", "GRGRENG01", "2026/27", "HT"))}),
    # a forecast of before identity1: its id derived from the organiser as it was sent then (the organiser as kept
    # now: by the fast path; as sent then, ten digits, the ordinary way respells it: test_item_rules)
    (FORECAST, {"organiser_id": "212000-1234",
                "forecast_id": str(forecast_id_for("2120001234", "stu-2c81d4", "GRGRENG01", "2026/27", "VT"))}),
]

_FIELD_VALIDATED = {"unique_tags", "tag_length", "unique_indicator"}  # a field's rule: its location names the field


def _record(offset: int, event_type: str, data: dict[str, Any], plain: bool) -> tuple[Any, ...]:
    doc = json.loads(example_bytes(event_type))
    doc = {**doc, "id": str(uuid.UUID(int=29_000 + offset)), "data": {**doc["data"], **data}}
    value = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    if not plain:  # an escape: not plain text, so the ordinary decode, never the fast path
        value = value.replace(b'"specversion":"1.0"', b'"specversion":"1\\u002e0"', 1)
    return (topic_for_event_type(event_type).name, 0, offset, value, RECORDED, doc["data"]["organiser_id"].encode(),
            None)


def _names(message: str, field: str, rule: str) -> bool:
    """The refusal names the field (`data: field: …` for a model's rule, `data.field: …` for a field's) and the rule."""
    where = f"data.{field}: " if rule in _FIELD_VALIDATED else f"data: {field}: "
    return where in message and f"({rule})" in message


def _mixed(plain: bool) -> tuple[list[tuple[Any, ...]], list[int]]:
    """Every refused event with a taken one after each (nothing else lost), in one log; the refused indexes."""
    raw, refused = [], []
    taken = iter(TAKEN * 2)
    for event_type, data, _, _ in REFUSED:
        refused.append(len(raw))
        raw.append(_record(len(raw), event_type, data, plain))
        other_type, other = next(taken)
        raw.append(_record(len(raw), other_type, other, plain))
    for other_type, other in TAKEN:
        raw.append(_record(len(raw), other_type, other, plain))
    return raw, refused


@pytest.mark.parametrize("plain", [True, False], ids=["fast path", "ordinary path"])
def test_an_event_breaking_an_item_rule_of_its_door_is_refused_by_the_decode_naming_field_and_rule(
        plain: bool) -> None:
    """Each event its door's rule refuses is refused by the live decode (`decode_event`, by its fast path's shadow
    and the ordinary way alike) as `invalid_data` naming the field and the rule; each it takes is taken, by the fast
    path where the type has a shadow. Failed on the old code: the support events of the seven non-date rules, the
    term grade of year 3, the F in the anpassad grundskola, the blank criterion, the blank reason and the tags
    "IT"/"it" were taken, and no refusal named its rule."""
    for n, (event_type, data, field, rule) in enumerate(REFUSED):
        with pytest.raises(ContractError) as caught:
            decode_event(_record(n, event_type, data, plain)[3])
        assert caught.value.reason == "invalid_data" and _names(caught.value.message, field, rule), \
            (event_type, data, caught.value.message)
    for n, (event_type, data) in enumerate(TAKEN):
        raw = _record(n, event_type, data, plain)[3]
        decode_event(raw)
        if plain and event_type not in (LIKA, ACTION_PLAN):  # (LIKA's events have no shadow: nested models)
            assert decode_plain(raw) is not None, (event_type, data)


@pytest.mark.parametrize("plain", [True, False], ids=["fast path", "ordinary path"])
def test_the_rebuild_dead_letters_each_naming_field_and_rule_and_loses_nothing_else(plain: bool) -> None:
    """The rebuild's decode (by rows, and by its direct COPY lines for the facts) dead-letters exactly the refused
    events, each naming its field and rule, and reads every other. Failed on the old code: it read them all."""
    raw, refused = _mixed(plain)
    for as_text in (False, True):
        staged = decoded_and_staged(raw, 0, 64_000, as_text=as_text)
        assert [d[0] for d in staged.dead] == refused, (as_text, staged.dead)
        for (_, reason, message), (event_type, data, field, rule) in zip(staged.dead, REFUSED, strict=True):
            assert reason == "invalid_data" and _names(message, field, rule), (event_type, data, message)
        assert staged.read == len(raw) - len(refused), (as_text, staged.dead)


@pytest.mark.postgres_only
async def test_reporting_s_live_consumer_dead_letters_each_naming_field_and_rule_and_applies_the_rest(
        infrastructure: Any) -> None:
    """Reporting's own consumer loop and handlers, on a migrated database: each refused event goes to the dead-letter
    topic as `invalid_data`, its message naming the field and the rule; every other event of the batch is applied.
    Failed on the old code: the refused events were applied (the support events counted among the active
    interventions, the grades among the unit's)."""
    from styrkedja_devstack.testing import RecordingProducer
    from styrkedja_kit.consumer import ConsumerLoop
    from styrkedja_kit.db import Database
    from styrkedja_kit.migrations import upgrade
    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.persistence import metadata
    from styrkedja_reporting.settings import ReportingSettings

    database_url = infrastructure.create_database(f"t_hostile_29r_{uuid.uuid4().hex[:8]}")
    upgrade("styrkedja_reporting", database_url)
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers="unused:9092",
                                 outbox_enabled=False, consumer_enabled=False)
    database = Database(database_url, pool_size=2)
    registry = handler_registry()
    raw, refused = _mixed(True)
    batches: dict[TopicPartition, list[ConsumerRecord]] = {}
    for topic, partition, offset, value, timestamp, key, _ in raw:
        batches.setdefault(TopicPartition(topic, partition), []).append(
            ConsumerRecord(topic, partition, offset, timestamp, 0, key, value, None, len(key), len(value), ()))
    topics = sorted({tp.topic for tp in batches})
    producer = RecordingProducer()
    try:
        loop = ConsumerLoop(settings, database, group_id="hostile-29r", topics=topics, handler=registry,
                            applied_table=metadata.tables["consumer_applied_events"],
                            offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)
        await loop.process(batches, producer)
        letters = {(h["dlq.topic"].decode(), int(h["dlq.offset"])): (h["dlq.reason"], h["dlq.message"].decode())
                   for _, _, h in producer.sent}
        assert len(letters) == len(producer.sent) == len(refused), producer.sent
        for index, (event_type, data, field, rule) in zip(refused, REFUSED, strict=True):
            reason, message = letters[(raw[index][0], raw[index][2])]
            assert reason == b"invalid_data" and _names(message, field, rule), (event_type, data, message)
        applied_table = metadata.tables["consumer_applied_events"]
        async with database.sessions() as session:
            applied = set((await session.execute(select(applied_table.c.event_id))).scalars())
        taken = {uuid.UUID(json.loads(r[3])["id"]) for n, r in enumerate(raw) if n not in refused}
        assert applied == taken and loop.applied_count == len(taken)
    finally:
        await database.dispose()


# -- every rule a door can raise: held by its event, or said why not ----------------------------------------------

#: the write doors' source: the assessment, forecast and LIKA services, reporting's directory, the kit's write rules;
#: and the contracts' item rules (`Broken`), which the doors call
DOOR_SOURCES = [
    *sorted((ROOT / "services/assessment/src").rglob("*.py")),
    *sorted((ROOT / "services/forecast/src").rglob("*.py")),
    *sorted((ROOT / "services/lika/src").rglob("*.py")),
    *sorted((ROOT / "services/reporting/src/styrkedja_reporting/directory").rglob("*.py")),
    *[ROOT / "packages/kit/src/styrkedja_kit" / name
      for name in ("rules.py", "revisions.py", "writes.py", "inputs.py")],
    *sorted((ROOT / "packages/contracts/src/styrkedja_contracts/events").glob("*.py")),
]
#: the callables that carry a rule's name, and the position of the name among their arguments (else `rule=`)
RULE_CALLS = {"RuleViolation": 1, "PydanticCustomError": 0, "FieldProblem": 1, "Problem": None, "Broken": 1}
#: where a door passes on a rule named elsewhere: (file, expression) → where those names are read from here
PASSED_ON = {
    ("packages/kit/src/styrkedja_kit/rules.py", "self.rule"): "a violation located at its batch item",
    ("packages/kit/src/styrkedja_kit/rules.py", "rules[0] if len(rules) == 1 else 'event_contract'"):
        "the event model's own rule",
    ("packages/kit/src/styrkedja_kit/rules.py", "rules[0]"): "the event contract's own rule (`ContractError.rules`)",
    ("services/assessment/src/styrkedja_assessment/assessments/rules.py", "broken[0].rule"): "the contracts' Broken",
    ("services/assessment/src/styrkedja_assessment/plans/service.py", "b.rule"): "the contracts' Broken",
    ("services/assessment/src/styrkedja_assessment/support/rules.py", "b.rule"): "the contracts' Broken",
    ("services/forecast/src/styrkedja_forecast/forecasts/service.py", "broken[0].rule"): "the contracts' Broken",
    ("services/lika/src/styrkedja_lika/action_plans/rules.py", "str(first['type'])"): "the event model's own rule",
    ("services/lika/src/styrkedja_lika/action_plans/service.py", "problem.rule"): "LIKA's FieldProblem",
    ("services/lika/src/styrkedja_lika/domain/ratings.py", "rule"): "LIKA's Rule",
    ("services/lika/src/styrkedja_lika/problems.py", "p.rule"): "LIKA's FieldProblem",
    ("services/lika/src/styrkedja_lika/self_assessments/rules.py", "p.rule.value"): "LIKA's Rule",
    ("services/lika/src/styrkedja_lika/self_assessments/service.py", "problem.rule"): "LIKA's FieldProblem",
}
#: rules of the events alone (no door raises them: the door holds the same by another rule or never makes such data)
EVENT_ONLY = {"not_after_published"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).parts)
    parts = parts[parts.index("src") + 1:]
    parts[-1] = parts[-1].removesuffix(".py")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def door_rule_names() -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """Every rule name the doors' source raises (name → the files), and the places that pass on a name made
    elsewhere (file, expression)."""
    names: dict[str, set[str]] = {}
    passed_on: set[tuple[str, str]] = set()
    for path in DOOR_SOURCES:
        where = str(path.relative_to(ROOT))
        if "migrations" in path.parts:
            continue
        module: Any = None
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            callee = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if callee not in RULE_CALLS or (callee != "Broken" and where.startswith("packages/contracts/")):
                continue  # (the contracts' other errors are the events' own rules: their field types')
            position = RULE_CALLS[callee]
            arg = next((k.value for k in node.keywords if k.arg == "rule"), None)
            if arg is None and position is not None and len(node.args) > position:
                arg = node.args[position]
            if arg is None:
                continue  # a problem document without a rule (the kit's HTTP problems)
            value: Any = arg.value if isinstance(arg, ast.Constant) else None
            if isinstance(arg, (ast.Name, ast.Attribute)):
                module = module or importlib.import_module(_module(path))
                try:
                    value = eval(ast.unparse(arg), vars(module))  # a constant of the module or one it imports
                except (NameError, AttributeError):
                    value = None
                value = value.value if isinstance(value, enum.Enum) else value
            if isinstance(value, str):
                names.setdefault(value, set()).add(where)
            else:
                passed_on.add((where, ast.unparse(arg)))
    from styrkedja_lika.domain.ratings import Rule

    for rule in Rule:  # LIKA's problems pass on its `Rule`s
        names.setdefault(rule.value, set()).add("services/lika/src/styrkedja_lika/domain/ratings.py")
    return names, passed_on


def test_every_rule_a_door_can_raise_is_held_by_its_event_or_said_why_not() -> None:
    """Each rule name the write doors can raise is in exactly one of `door_rules.HELD` (with event types that exist),
    `NOT_ITEM_RULES` or `NOT_HELD` (with the reason), and none of those names a rule no door raises any more. A
    door passing on a rule named elsewhere is listed in `PASSED_ON` with where its names are read from. Unknown rules
    keep being found: a new rule at a door fails here until it is given its event or its reason. Failed on the old
    code: no table (and the seven support rules, the graded year, the tags' case were no event's)."""
    names, passed_on = door_rule_names()
    assert passed_on == set(PASSED_ON), passed_on ^ set(PASSED_ON)
    tables = [set(HELD), set(NOT_ITEM_RULES), set(NOT_HELD)]
    assert not (tables[0] & tables[1]) and not (tables[0] & tables[2]) and not (tables[1] & tables[2])
    unknown = {name: sorted(files) for name, files in names.items()
               if name not in set().union(*tables) and name not in EVENT_ONLY}
    assert not unknown, f"rules a door raises that no event holds nor door_rules explains: {unknown}"
    stale = set().union(*tables) - set(names)
    assert not stale, f"door_rules names rules no door raises: {sorted(stale)}"
    for name, event_types in HELD.items():
        assert event_types and all(t == EVERY_EVENT or t in REGISTRY.models for t in event_types), (name, event_types)
    assert all(len(reason) > 40 for reason in (*NOT_ITEM_RULES.values(), *NOT_HELD.values()))


def test_every_rule_held_by_an_event_of_its_own_has_a_hostile_event_here() -> None:
    """Each rule the table says an event of the assessment service or LIKA holds by a rule of its own (not a field's
    type) is broken by an event above, which the decode refuses naming it."""
    own = {"decision_names_decider", "decision_names_date", "principal_decides", "starts_after_decision",
           "evaluation_after_start", "outcome_needs_evaluation", "evaluated_needs_outcome",
           "action_programme_needs_investigation", "investigation_basis_kind", "term_grade_from_year_6",
           "value_on_scale", "term_grade_on_af_scale", "criteria_required_below_pass", "within_school_year",
           "not_blank", "published_within_school_year", "unique_tags", "tag_length", "unique_indicator",
           "derived_from_key"}
    assert own <= set(HELD)
    assert own | EVENT_ONLY == {rule for _, _, _, rule in REFUSED}
