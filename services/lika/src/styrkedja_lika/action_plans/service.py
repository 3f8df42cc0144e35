"""Use cases of action plans: generate (when a self-assessment becomes final), read with filters,
edit an activity. Each edit of a published self-assessment's plan sends the whole plan as an event
with a new revision, so that the organiser's compilation stays current; a private one's never leaves
the service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import CloudEvent
from styrkedja_contracts.events.lika import LikaActionPlanChangedV1
from styrkedja_kit.revisions import following_revision
from styrkedja_kit.rules import RuleViolation, publishable_event

from ..access.actor import Acting
from ..access.rules import Owner, not_found, require_visible, require_write
from ..domain import AssessmentStatus, Catalogue, SchoolTerm, SelfAssessment, generate_action_plan
from ..problems import raise_if_any
from ..self_assessments import queries as self_assessment_queries
from . import queries, rules

SOURCE = "/styrkedja/lika"


def _owner(row: dict[str, Any]) -> Owner:
    return Owner(row["organiser_id"], row["school_unit_code"], AssessmentStatus(row["status"]))


def plan_event(assessment: dict[str, Any], revision: int, items: list[dict[str, Any]], now: datetime,
               max_event_bytes: int) -> CloudEvent:
    event: CloudEvent = publishable_event(lambda: LikaActionPlanChangedV1(
        self_assessment_id=assessment["self_assessment_id"], organiser_id=assessment["organiser_id"],
        school_unit_code=assessment["school_unit_code"], school_form=assessment["school_form"],
        catalogue_version=assessment["catalogue_version"], revision=revision, items=rules.event_items(items),
        changed_at=now), source=SOURCE, subject=str(assessment["self_assessment_id"]), field="action_plan")
    size = len(event.to_bytes())
    if size > max_event_bytes:
        raise RuleViolation("action_plan", "event_size_limit",
                            f"the action plan event would be {size} bytes, the limit is {max_event_bytes}")
    return event


async def generate_plan(session: AsyncSession, assessment: dict[str, Any], catalogue: Catalogue,
                        checked: SelfAssessment, start: SchoolTerm, now: datetime,
                        max_event_bytes: int) -> list[CloudEvent]:
    """Store the domain's plan of a self-assessment that just became final; the event(s) to send."""
    items = rules.generated_items(generate_action_plan(catalogue, checked, start))
    await queries.insert_plan(session, assessment["self_assessment_id"], str(start), items, now)
    if assessment["status"] != AssessmentStatus.PUBLISHED.value:
        return []
    return [plan_event(assessment, 1, items, now, max_event_bytes)]


class ActionPlans(Acting):
    async def _assessment(self, session: AsyncSession, self_assessment_id: uuid.UUID) -> dict[str, Any]:
        """The self-assessment of the plan, if the caller may read it: one it may not is answered as an id never
        stored (`require_visible`), before whether it has a plan is told."""
        row = await self_assessment_queries.one(session, self_assessment_id)
        if row is None:
            raise not_found(self_assessment_id)
        require_visible(self.actor, _owner(row), self_assessment_id)
        return row

    async def _plan(self, session: AsyncSession, self_assessment_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any]:
        plan = await queries.plan(session, self_assessment_id, lock=lock)
        if plan is None:
            raise RuleViolation("self_assessment_id", "no_action_plan",
                                "the self-assessment has no action plan: it is generated when a self-assessment "
                                "made in this tool is published or kept private", status=404)
        return plan

    async def get(self, self_assessment_id: uuid.UUID,
                  plan_filter: rules.PlanFilter) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], int]:
        """The self-assessment, its plan, the items that pass the filter, and the number of all items."""
        async with self.db.sessions() as session:
            assessment = await self._assessment(session, self_assessment_id)
            plan = await self._plan(session, self_assessment_id)
            items = await queries.items(session, self_assessment_id)
        return assessment, plan, [dict(i) for i in plan_filter.apply(items)], len(items)

    async def edit(self, self_assessment_id: uuid.UUID, activity_id: str, changes: dict[str, Any], *,
                   made_on: int | None = None) -> tuple[dict[str, Any], int]:
        """The edited item and the plan's revision. An edit that changes nothing is no new revision. `made_on`: the
        plan's revision the edit was made on, where the client names one — another edit since is a 409 (two people
        editing from one reading of the plan: the later overwrote the earlier, a lost update)."""
        raise_if_any(rules.edit_problems(changes))
        now = datetime.now(UTC)
        async with self.db.sessions.begin() as session:
            # whether the caller may see the self-assessment first (a plan is only a final one's, and a final one
            # never changes its owner or status); then lock the plan: edits of one plan are serialised, so revisions
            # and events stay in order
            assessment = await self._assessment(session, self_assessment_id)
            plan = await self._plan(session, self_assessment_id, lock=True)
            require_write(self.actor, _owner(assessment))
            problem = rules.revision_problem(plan["revision"], made_on)
            if problem:
                raise RuleViolation(problem.field, problem.rule, problem.message, status=409)
            items = await queries.items(session, self_assessment_id)
            item = next((i for i in items if i["activity_id"] == activity_id), None)
            if item is None:
                raise RuleViolation("activity_id", "not_in_plan", f"{activity_id} is not in this action plan",
                                    status=404)
            changed = rules.apply_edit(item, changes)
            if not changed:
                return item, plan["revision"]
            following_revision(plan["revision"])  # a 409 where none follows, before anything is written
            await queries.update_item(session, self_assessment_id, activity_id, changed, now)
            revision = await queries.next_revision(session, self_assessment_id, now)
            item.update(changed)
            if assessment["status"] == AssessmentStatus.PUBLISHED.value:
                await self.outbox.add(session, [plan_event(assessment, revision, items, now, self.max_event_bytes)])
            return item, revision
