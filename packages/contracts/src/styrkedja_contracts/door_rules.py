"""Which rule of an HTTP door is held by which event, and why the others are none of an event's (round 29r).

Events on Kafka come also from producers we don't write: reporting refuses (dead-letters, naming the field and the
rule) an event that breaks a rule the door of its producing service refuses, or a figure counts what the system
forbids, and the rebuild must refuse the same. So every rule name a write door can raise is in exactly one of:

- `HELD`: an item rule (one item's values, nothing stored, no caller, no clock), held by the event types named (`*`:
  by every event carrying such a field). The pure ones are written once, in this package (`events.rules.Broken`:
  `events.support.intervention_broken`, `events.assessment.assessment_broken`, `events.plan.plan_broken`,
  `events.forecast.forecast_id_broken`, the LIKA tag rules), the door and the event's model calling the same
  function; the others are the event's field types, which the door's body shares;
- `NOT_ITEM_RULES`: a rule that is not one item's own — against stored state, the caller, the clock, reference data
  the contracts do not hold, or the shape of a request — with the reason;
- `NOT_HELD`: an item rule the event does not hold, with the reason (a decision, or a known gap, reported).

`tests/test_hostile_round29r.py` reads every rule name the doors of the assessment, forecast and LIKA services, of
reporting's directory and of the kit can raise from their source, and fails on a name in none of these (or in two),
or on a name here that no door raises any more.
"""

from __future__ import annotations

__all__ = ["EVERY_EVENT", "HELD", "NOT_HELD", "NOT_ITEM_RULES", "item_rules_of"]

ASSESSMENT = "se.styrkedja.assessment.published.v1"
ASSESSMENT_RETRACTED = "se.styrkedja.assessment.retracted.v1"
SUPPORT = "se.styrkedja.support.intervention_recorded.v1"
PLAN = "se.styrkedja.plan.published.v1"
FORECAST = "se.styrkedja.forecast.submitted.v1"
FORECAST_WITHDRAWN = "se.styrkedja.forecast.withdrawn.v1"
LIKA = "se.styrkedja.lika.self_assessment_published.v1"
ACTION_PLAN = "se.styrkedja.lika.action_plan_changed.v1"
UNIT = "se.styrkedja.organisation.unit_upserted.v1"
MEMBERSHIP = "se.styrkedja.organisation.membership_upserted.v1"
TEACHING = "se.styrkedja.organisation.teaching_assigned.v1"
DUTY = "se.styrkedja.organisation.duty_upserted.v1"
REMOVED = "se.styrkedja.organisation.entity_removed.v1"
#: every event (its text, its dates, its ids, its size): the rules `events.base.ContractModel` and `decode_event` hold
EVERY_EVENT = "*"

#: rule name → the event types that refuse an event breaking it
HELD: dict[str, tuple[str, ...]] = {
    # the assessment service's assessments (`events.assessment.assessment_broken`; a forecast's value is a `Literal`)
    "value_on_scale": (ASSESSMENT, FORECAST),
    "term_grade_on_af_scale": (ASSESSMENT,),
    "criteria_required_below_pass": (ASSESSMENT,),
    "term_grade_from_year_6": (ASSESSMENT,),
    "within_school_year": (ASSESSMENT,),
    "not_blank": (ASSESSMENT, ASSESSMENT_RETRACTED, EVERY_EVENT),  # a criterion, a reason; every name (`Name`)
    # the assessment service's support interventions (`events.support.intervention_broken`)
    "decision_names_decider": (SUPPORT,),
    "decision_names_date": (SUPPORT,),
    "principal_decides": (SUPPORT,),
    "starts_after_decision": (SUPPORT,),
    "evaluation_after_start": (SUPPORT,),
    "outcome_needs_evaluation": (SUPPORT,),
    "evaluated_needs_outcome": (SUPPORT,),
    "action_programme_needs_investigation": (SUPPORT,),
    "investigation_basis_kind": (SUPPORT,),
    # the assessment service's plans (`events.plan.plan_broken`)
    "published_within_school_year": (PLAN,),
    # the forecast service's forecasts (`events.forecast.forecast_id_broken`): one id per organiser, student,
    # subject, school year and term (the event takes too the ids of an organiser's spellings before identity1); every
    # forecast event carrying the id and its key, the withdrawal too (round 30a: its door takes only a stored id,
    # which is its key's; another producer's withdrawal under another id took back a forecast never sent)
    "derived_from_key": (FORECAST, FORECAST_WITHDRAWN),
    # LIKA: a self-assessment's ratings (the event's `LikaRating`s) and an action plan's tags (`events.lika`)
    "unique_indicator": (LIKA,),
    "not_on_scale": (LIKA,),  # `LikaRatingValue`
    "comment_too_long": (LIKA,),  # `max_length` 2000, the door's `MAX_COMMENT_LENGTH`
    "invalid_comment": (LIKA,),  # text or none
    "missing_field": (LIKA,),  # the model's required fields (the door's `published_at_required` too)
    "invalid_field": (LIKA,),  # the model's types, no unknown field (`extra="forbid"`)
    "published_at_required": (LIKA,),
    "tag_length": (ACTION_PLAN,),
    "unique_tags": (ACTION_PLAN,),  # in any case (`events.lika.tag_folded`)
    "too_many_tags": (ACTION_PLAN,),  # `max_length` 20, the door's `MAX_TAGS`
    # reporting's directory door: its items are the organisation events themselves (`events.organisation`: the
    # tree's rules of a unit, a period's ends, what a removal names), each a rule of its own since round 32
    "organiser_without_parent": (UNIT,),
    "parent_required": (UNIT,),
    "school_unit_code_required": (UNIT, REMOVED),
    "school_unit_code_not_allowed": (UNIT,),
    "year_only_for_group": (UNIT,),
    "roster_size_only_for_school_units": (UNIT,),
    "end_not_before_start": (MEMBERSHIP, TEACHING, DUTY),
    "unit_type_required": (REMOVED,),
    "unit_type_only_for_unit": (REMOVED,),
    # every event: the text rules, the years of a date, the form of an id, the size (`decode_event`: `oversized`)
    "no_personal_identity_number": (EVERY_EVENT,),
    "no_control_characters": (EVERY_EVENT,),
    "no_noncharacters": (EVERY_EVENT,),
    "no_invisible_characters": (EVERY_EVENT,),
    "no_mixed_scripts": (EVERY_EVENT,),  # every name (`Name`: `check_name`), round 38
    "no_whole_script_confusables": (EVERY_EVENT,),  # every name (`Name`: `check_name`), round 39
    "uuid_format": (EVERY_EVENT,),
    # every date and time of an event in 1900–2199, a forecast's `window_deadline` too (the forecast door's check of
    # it); a school year past 2198/99 the doors refuse and an event keeps, by design (`events.base`:
    # `LAST_SCHOOL_YEAR_START`, one published before the bound is still decoded on a replay)
    "date_range": (EVERY_EVENT,),
    "event_size_limit": (EVERY_EVENT,),
    # a door's event refused by the event's own model (`kit.rules.publishable_event`): the event's rules by definition
    "event_contract": (EVERY_EVENT,),
}

_STORED = "against what is stored (another record, a revision, a status), not the item's own values: no event holds it"
_CALLER = "the caller's token (its role, its organisers, its units): an event names no caller"
_REQUEST = "the shape of a request (a batch, an edit, a read's parameter), no field of an event"
_CATALOGUE = ("LIKA's catalogue (its versions, indicators and areas) is the LIKA service's reference data, not the "
              "contracts': reporting holds none to judge by")

#: rule name → why it is no rule of an event's own values
NOT_ITEM_RULES: dict[str, str] = {
    "one_result_per_key": _STORED + " (one result per student, subject, kind and period: reporting keeps the newest)",
    "investigation_must_exist": _STORED,
    "investigation_of_same_student": _STORED,
    "investigation_must_be_decided": _STORED,
    "revision_must_increase": _STORED + " (reporting keeps the newest revision, a stale one is no change)",
    "revisions_exhausted": _STORED,
    "removed_for_good": _STORED,
    "removed_needs_revision": _STORED,
    "must_exist": _STORED,
    "concurrent_change": _STORED,
    "next_revision": _STORED,
    "revision_changed": _STORED,
    "id_taken": _STORED,
    "published_is_final": _STORED,
    "final": _STORED,
    "not_rated": _STORED,
    "no_action_plan": _STORED,
    "not_in_plan": _STORED,
    "listed_id": _STORED,
    "catalogue_version_mismatch": _STORED + " (the draft's catalogue)",
    "role_may_record": _CALLER,
    "decider_is_caller": _CALLER + " (`principal_decides` is the item's rule, held)",
    "write_scope": _CALLER,
    "not_owner": _CALLER,
    "unit_only": _CALLER,
    "out_of_scope": _CALLER,
    "not_found": _CALLER + " (or what is stored)",
    "max_batch_items": _REQUEST,
    "unique_in_batch": _REQUEST,
    "nothing_to_change": _REQUEST,
    "required_value": _REQUEST,
    "nothing_to_remove": _REQUEST + " (a directory removal naming neither a source id nor an entity)",
    "decimal_format": _REQUEST + " (a decimal of a body: no event has one)",
    "term_format": _REQUEST + " (LIKA's action plan `start_term`, which no event carries)",
    "school_year_format": _REQUEST + " (LIKA's action plan `start_term`, which no event carries)",
    "not_comparable": _REQUEST + " (a comparison read)",
    "school_unit_code_for_group": _REQUEST + " (a directory read of a group as one unit names its school unit)",
    "less_than_equal": ("a revision a sender names is at most `MAX_NAMED_REVISION`, so that it can be revised again; "
                        "an event carries any revision to `MAX_INT4` by design, the ones a service numbered above "
                        "the bound too (`events.base.MAX_NAMED_REVISION`)"),
    "not_in_future": ("the door's clock; an event's moments are judged against its record's time instead "
                      "(`time_in_future`, the kit's `ahead_of_record`, live and rebuilt alike), and a LIKA "
                      "self-assessment's day against its publishing (`not_after_published`)"),
    "week_in_term": ("a rule of a calendar being set only: one stored before the rule is read, and published, as it "
                     "is (the forecast service's `check_weeks_in_terms`)"),
    "unknown_catalogue_version": _CATALOGUE,
    "unknown_indicator": _CATALOGUE,
    "rating_missing": _CATALOGUE,
    "indicator_area": _CATALOGUE,
}

#: rule name → why the event does not hold this item rule (a decision, or a gap reported and not mended)
NOT_HELD: dict[str, str] = {
    "unique": ("an assessment's `unmet_criteria` and a plan's `criteria_codes` are sets: the door refuses a repeat, "
               "the v1 events take one and a consumer reads it once (the README's \"Lists that mean sets\"); "
               "reporting reads neither list, so a repeat moves no figure, live or rebuilt"),
}


def item_rules_of(event_type: str) -> tuple[str, ...]:
    """The item rules `event_type` holds by name (`HELD`), the rules every event holds (`EVERY_EVENT`: the text rules
    each document says once) left out: what a write door's body says it keeps beyond its fields' schemas."""
    return tuple(rule for rule, events in HELD.items() if event_type in events)
