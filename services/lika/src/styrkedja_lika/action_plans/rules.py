"""Rules of action plans (pure): the stored form of a generated plan, edits, filters, the event.

The plan itself — which activities, their order, plan priority 1–3 and suggested term — is the
domain's (`domain.action_plan.generate_action_plan`). The unit then edits each activity: status,
priority, owner, due date, tags and a note."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from styrkedja_contracts.events.base import full_loc
from styrkedja_contracts.events.lika import (
    MAX_TAG_LENGTH,
    TAG_LENGTH_RULE,
    UNIQUE_TAGS_RULE,
    ActionStatus,
    LikaActionPlanItem,
    tag_folded,
)
from styrkedja_contracts.identifiers import name_form
from styrkedja_kit.rules import RuleViolation

from ..domain import ActionPlan
from ..problems import FieldProblem
from ..text_rules import text_problems

EDITABLE = ("status", "priority", "owner", "due_date", "tags", "note")
#: the fields an edit changes but never clears (`null` is `required_value`); the others are cleared by `null`
NOT_CLEARED = ("status", "priority", "tags")
MAX_TAGS = 20


def same_text(value: str) -> str:
    """A tag (or owner) as it is stored and compared: a name's one form (the contracts' `name_form`: Unicode's NFC,
    no surrounding spaces), so that "Skölan" typed with a precomposed ö and with o + a combining diaeresis (as macOS
    and some keyboards send it), or "Skölan " with a space left at its end, is one tag, not two that look alike, and
    a filter by one finds the other."""
    formed: str = name_form(value)
    return formed


def folded(value: str) -> str:
    """A tag (or owner) as a filter and the rule of unique tags compare it: its one form (`same_text`) in any case —
    Unicode's canonical caseless match, NFC(casefold(NFC(name))), as reporting's compilation of the same plan reads
    it (`/v1/lika/compilation/activities?tag=`, `?owner=`): "Nätverk" is "nätverk", "IT" is "it". A filter by tag
    found the case typed only, so the unit's to-do list and its organiser's disagreed, and "IT" and "it" were two
    tags of one activity. The contracts' `tag_folded`: the event's rule of unique tags is this one too (round 29r)."""
    return tag_folded(value)


def generated_items(plan: ActionPlan) -> list[dict[str, Any]]:
    """The rows of a freshly generated plan: every activity planned, at its plan priority, owned by
    the role the catalogue suggests."""
    return [{"activity_id": i.activity_id, "position": i.position, "indicator_id": i.indicator_id,
             "area": i.area.value, "title": i.title, "current_rating": i.current_rating.value,
             "plan_priority": i.plan_priority, "suggested_term": str(i.suggested_term),
             "status": ActionStatus.planned.value, "priority": i.plan_priority, "owner": i.owner.value,
             "due_date": None, "tags": list(i.tags), "note": None} for i in plan.items]


def edit_problems(changes: Mapping[str, Any]) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if not changes:
        problems.append(FieldProblem("body", "nothing_to_change",
                                     f"give at least one of {', '.join(EDITABLE)}"))
    for name in NOT_CLEARED:
        if name in changes and changes[name] is None:
            problems.append(FieldProblem(name, "required_value", f"{name} cannot be cleared, only changed"))
    problems += text_problems("owner", changes.get("owner"))
    problems += text_problems("note", changes.get("note"), multiline=True)
    tags = changes.get("tags") or []
    for n, tag in enumerate(tags):
        problems += text_problems(f"tags.{n}", tag)
        if len(same_text(tag)) > MAX_TAG_LENGTH:  # (an empty or blank one is `not_blank`, a name's rule: `text_problems`)
            problems.append(FieldProblem(f"tags.{n}", TAG_LENGTH_RULE, f"a tag has 1–{MAX_TAG_LENGTH} characters"))
    if len({folded(t) for t in tags if isinstance(t, str)}) != len(tags):
        problems.append(FieldProblem("tags", UNIQUE_TAGS_RULE, "a tag is given more than once"))
    if len(tags) > MAX_TAGS:
        problems.append(FieldProblem("tags", "too_many_tags", f"at most {MAX_TAGS} tags"))
    return problems


def revision_problem(current: int, made_on: int | None) -> FieldProblem | None:
    """An edit made on another revision of the plan than the one stored (None: the client named none)."""
    if made_on is None or made_on == current:
        return None
    return FieldProblem("revision", "revision_changed",
                        f"the plan is at revision {current}, not {made_on}: it was changed since; read it again and "
                        "make the edit on what it holds now")


def apply_edit(item: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changed columns only (empty: the edit changes nothing, so no new revision and no event)."""
    out = {}
    for name, value in changes.items():
        if name == "status" and value is not None:
            value = ActionStatus(value).value
        if name == "tags":
            value = [same_text(t) for t in value or []]
        elif name == "owner" and value is not None:
            value = same_text(value)
        if item[name] != value:
            out[name] = value
    return out


@dataclass(frozen=True)
class PlanFilter:
    status: ActionStatus | None = None
    priority: int | None = None
    owner: str | None = None
    tag: str | None = None

    def matches(self, item: Mapping[str, Any]) -> bool:
        return ((self.status is None or item["status"] == self.status.value)
                and (self.priority is None or item["priority"] == self.priority)
                and (self.owner is None or folded(item["owner"] or "") == folded(self.owner))
                and (self.tag is None or folded(self.tag) in {folded(t) for t in item["tags"]}))

    def apply(self, items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return [i for i in items if self.matches(i)]


def event_items(items: Sequence[Mapping[str, Any]]) -> tuple[LikaActionPlanItem, ...]:
    """What the organiser's compilation needs of each activity; the note stays in the service. An activity stored
    before a rule of today's event (a tag with a zero-width space, two tags one once formed) is a 409 naming that
    activity and its field: it was a 422 naming `action_plan` and `tags.0`, whichever activity the edit was of, so the
    client could not tell which one to mend (editing it mends it: its new values replace the stored ones)."""
    out = []
    for i in sorted(items, key=lambda i: i["position"]):
        try:
            out.append(LikaActionPlanItem(activity_id=i["activity_id"], indicator_id=i["indicator_id"], area=i["area"],
                                          position=i["position"], title=i["title"], status=i["status"],
                                          priority=i["priority"], owner=i["owner"], due_date=i["due_date"],
                                          tags=tuple(i["tags"])))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in full_loc(first))
            raise RuleViolation(f"items.{i['activity_id']}.{where}", str(first["type"]),
                                f"activity {i['activity_id']}'s stored {where} breaks a rule of the plan's event "
                                f"({first['msg']}): edit that activity's {where.split('.')[0]} first",
                                status=409) from None
    return tuple(out)

