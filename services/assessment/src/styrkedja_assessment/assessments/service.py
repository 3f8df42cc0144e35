"""Use cases of the assessment service, on the kit's one write path (`styrkedja_kit.writes`):
each call is one transaction (domain rows + outbox), all or nothing, every bad item named."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache, partial
from operator import itemgetter
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.assessment import AssessmentPublishedV1, AssessmentRetractedV1
from styrkedja_contracts.scales import Scale
from styrkedja_kit.auth import Principal, Write
from styrkedja_kit.db import Database
from styrkedja_kit.outbox import Outbox
from styrkedja_kit.rules import RuleViolation, check_items
from styrkedja_kit.writes import (
    Built,
    Change,
    Outcome,
    RequestItems,
    WritePath,
    answer_fields,
    encoded_batch_answer,
    event_data,
)

from .rules import check_assessed_on, check_graded_year, check_result, special_school
from .schemas import AssessmentIn, AssessmentOut, RetractIn
from .tables import NATURAL_KEY, TABLES, owners_of_natural_keys

SOURCE = "/styrkedja/assessment"
#: What a retraction event repeats of the retracted assessment.
RETRACTION_FIELDS = ("organiser_id", "school_unit_code", "group_id", "student_id", "subject_code", "school_year",
                     "term", "round")
#: Columns of the current row besides id, revision, retracted and content.
COLUMNS = (*NATURAL_KEY, "school_unit_code", "group_id")


_items = RequestItems(AssessmentIn, "assessment_id")


#: An item's natural key from its content (one C call per item)
_key: Callable[[Mapping[str, Any]], tuple[Any, ...]] = itemgetter(*NATURAL_KEY)


@lru_cache(maxsize=4096)
def _result_holds(kind: str, scale: Scale, value: str, names_criteria: bool, in_special_school: bool) -> bool:
    """Whether `check_result` accepts a result of this kind, scale and value (in a subject of the anpassad grundskola
    or not), naming unmet criteria or not (all it asks of them): a batch repeats a few of these a thousand times."""
    try:
        check_result(kind, scale, value, ("named",) if names_criteria else (), special_school=in_special_school)
    except RuleViolation:
        return False
    return True


def _check(item: AssessmentIn) -> None:
    in_special_school = special_school(item.subject_code)
    if not _result_holds(item.kind.value, item.scale, item.value, bool(item.unmet_criteria), in_special_school):
        check_result(item.kind.value, item.scale, item.value, tuple(item.unmet_criteria),  # raises, naming the rule
                     special_school=in_special_school)
    check_graded_year(item.kind.value, item.year)
    check_assessed_on(item.assessed_on, item.school_year)


#: An outcome as `AssessmentOut`'s fields (a batch's answer: no model per item).
_out_item = answer_fields(TABLES)


def _out(outcome: Outcome) -> AssessmentOut:
    # the write path's own values (no request text): constructed, not validated (FastAPI checks the response)
    return AssessmentOut.model_construct(**_out_item(outcome))


def _built(change: Change, revision: int, now: datetime, *, checked_once: bool) -> Built:
    """The event, of values checked once: `AssessmentIn` holds every field rule of the event (the same
    types), `_check` its model rules (`check_result`); the id, revision and time are the write path's.
    Else validated again by its contract model."""
    values = {"assessment_id": change.record_id, "revision": revision, "published_at": now, **change.content}
    return Built(event_data(AssessmentPublishedV1, values, checked_once=checked_once),
                 columns={k: change.content[k] for k in COLUMNS})


class AssessmentService:
    def __init__(self, db: Database, outbox: Outbox, principal: Principal, *, max_batch_items: int = 1000,
                 checked_once: bool = True) -> None:
        self.build = partial(_built, checked_once=checked_once)
        self.writes = WritePath(db, outbox, TABLES, source=SOURCE, max_batch_items=max_batch_items,
                                writer=(principal, Write.ASSESSMENTS))

    async def publish(self, items: Sequence[AssessmentIn], *, batch: bool = False) -> list[AssessmentOut]:
        """Store a new revision of each item and its event, all or nothing. First of all, every item's
        organiser must be one this token writes for (403 naming each one that is not)."""
        return [_out(o) for o in await self.store(items, batch=batch)]

    async def publish_batch(self, items: Sequence[AssessmentIn]) -> tuple[int, bytes]:
        """`publish` of a batch: its status (201 when anything was stored, else 200) and its answer
        encoded as `BatchOut` (the write path's own values: ids, revisions, flags; not validated again)."""
        return encoded_batch_answer(await self.store(items, batch=True), _out_item)

    async def store(self, items: Sequence[AssessmentIn], *, batch: bool = False) -> list[Outcome]:
        """What `publish` does, answered as the write path's outcomes."""
        self.writes.require_writer([item.organiser_id for item in items], batch=batch)
        violations = check_items(items, _check, batch=batch)
        changes = _items.changes(items)
        first_at: dict[tuple[Any, ...], int] = {}
        for index, change in enumerate(changes):  # else the unique index fails and "send it again" never helps
            key = _key(change.content)
            if key in first_at:
                violations.append(RuleViolation(
                    f"items.{index}", "one_result_per_key", f"also at items.{first_at[key]}: one result per "
                    "student, subject, kind and period (school year, term, round)"))
            else:
                first_at[key] = index

        async def key_owners(session: AsyncSession, changes: Sequence[Change]) -> list[RuleViolation | None]:
            owners = await owners_of_natural_keys(session, [_key(c.content) for c in changes])
            found: list[RuleViolation | None] = []
            for index, change in enumerate(changes):
                owner = owners.get(_key(change.content))
                found.append(None if owner in (None, change.record_id) else RuleViolation(
                    f"items.{index}" if batch else "body", "one_result_per_key",
                    f"assessment {owner} already holds this student, subject, kind and period (school year, "
                    "term, round): revise it instead", status=409))
            return found

        # the natural key's unique index holds the key check too: it runs on the retry after a
        # unique violation, or when another item is refused (see `WritePath.publish`)
        return await self.writes.publish(changes, self.build, batch=batch, violations=violations,
                                         key_check=key_owners)

    async def retract(self, assessment_id: UUID, request: RetractIn) -> AssessmentOut:
        def built(row: Mapping[str, Any], revision: int, now: datetime) -> Built:
            content = row["content"]
            return Built(AssessmentRetractedV1(assessment_id=assessment_id, revision=revision, retracted_at=now,
                                               reason=request.reason, **{k: content[k] for k in RETRACTION_FIELDS}))

        outcome = await self.writes.remove(assessment_id, request.revision, built)
        return _out(outcome)
