"""Use cases of plan metadata on the kit's one write path. Title and link stay here; the event
carries what coverage needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from styrkedja_contracts.events.plan import PlanPublishedV1, PlanRetractedV1, plan_broken
from styrkedja_kit.auth import Principal, Write
from styrkedja_kit.db import Database
from styrkedja_kit.outbox import Outbox
from styrkedja_kit.rules import RuleViolation
from styrkedja_kit.writes import Built, Change, Outcome, RequestItems, WritePath, answer_fields, encoded_batch_answer

from .schemas import PlanIn, PlanOut, PlanRetractIn
from .tables import TABLES

SOURCE = "/styrkedja/assessment/plans"
KEY_FIELDS = ("organiser_id", "school_unit_code", "group_id", "subject_code", "school_year", "term")
EVENT_FIELDS = (*KEY_FIELDS, "criteria_codes", "published_on")


def _built(change: Change, revision: int, now: datetime) -> Built:
    data = PlanPublishedV1(plan_id=change.record_id, revision=revision, recorded_at=now,
                           **{k: change.content[k] for k in EVENT_FIELDS})
    return Built(data, columns={k: change.content[k] for k in KEY_FIELDS})


_items = RequestItems(PlanIn, "plan_id")
_answer = answer_fields(TABLES)


def _out(outcome: Outcome) -> PlanOut:
    return PlanOut(**_answer(outcome))


def check_plan(item: PlanIn) -> list[RuleViolation]:
    """A plan is published in (or before) its school year: not after it ends (30 June, `school_year_bounds`: the
    contracts' one school-year rule, an assessment's `within_school_year` too) — the contracts' `plan_broken`, which
    the event holds too."""
    return [RuleViolation(b.field, b.rule, b.words) for b in plan_broken(item.school_year, item.published_on)]


class PlanService:
    def __init__(self, db: Database, outbox: Outbox, principal: Principal, *, max_batch_items: int = 1000) -> None:
        self.writes = WritePath(db, outbox, TABLES, source=SOURCE, max_batch_items=max_batch_items,
                                writer=(principal, Write.ASSESSMENTS))

    async def publish(self, items: Sequence[PlanIn], *, batch: bool = False) -> list[PlanOut]:
        return [_out(o) for o in await self.store(items, batch=batch)]

    async def publish_batch(self, items: Sequence[PlanIn]) -> tuple[int, bytes]:
        """`publish` of a batch: its status and its answer encoded as `PlanBatchOut`."""
        return encoded_batch_answer(await self.store(items, batch=True), _answer)

    async def store(self, items: Sequence[PlanIn], *, batch: bool = False) -> list[Outcome]:
        self.writes.require_writer([item.organiser_id for item in items], batch=batch)
        violations = [v.at_item(i if batch else None) for i, item in enumerate(items) for v in check_plan(item)]
        return await self.writes.publish(_items.changes(items), _built, batch=batch, violations=violations)

    async def retract(self, plan_id: UUID, request: PlanRetractIn) -> PlanOut:
        def built(row: Mapping[str, Any], revision: int, now: datetime) -> Built:
            return Built(PlanRetractedV1(plan_id=plan_id, revision=revision, retracted_at=now,
                                         **{k: row["content"][k] for k in KEY_FIELDS}))

        return _out(await self.writes.remove(plan_id, request.revision, built))
