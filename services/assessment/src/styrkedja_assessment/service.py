"""Use cases of the assessment service; each call is one transaction (domain rows + outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from styrkedja_contracts.events.assessment import AssessmentPublishedV1, AssessmentRetractedV1
from styrkedja_kit.db import Database
from styrkedja_kit.outbox import Outbox
from styrkedja_kit.rules import RuleViolation, publishable_event

from .domain import Decision, check_result, decide_publish, decide_retract
from .persistence import NATURAL_KEY, AssessmentRepository
from .schemas import AssessmentIn, AssessmentOut, RetractIn

SOURCE = "/styrkedja/assessment"
#: What a retraction event repeats of the retracted assessment.
RETRACTION_FIELDS = ("organiser_id", "school_unit_code", "group_id", "student_id", "subject_code", "school_year",
                     "term", "round")


def _content(item: AssessmentIn) -> dict:
    return item.model_dump(mode="json", exclude={"assessment_id", "revision"})


class AssessmentService:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    async def publish(self, items: list[AssessmentIn], *, batch: bool = False) -> list[AssessmentOut]:
        """Store a new revision of each item and its event, all or nothing."""
        for index, item in enumerate(items):
            try:
                check_result(item.kind.value, item.scale, item.value, tuple(item.unmet_criteria))
            except RuleViolation as error:
                raise error.at_item(index if batch else None) from None
        ids = [item.assessment_id or uuid.uuid4() for item in items]
        seen: dict[UUID, int] = {}
        for index, assessment_id in enumerate(ids):
            if assessment_id in seen:
                raise RuleViolation(f"items.{index}.assessment_id", "unique_in_batch",
                                    f"also at items.{seen[assessment_id]}; send one revision per assessment")
            seen[assessment_id] = index
        keys = [tuple(getattr(item, k).value if hasattr(getattr(item, k), "value") else getattr(item, k)
                      for k in NATURAL_KEY) for item in items]
        seen_keys: dict[tuple, int] = {}
        for index, key in enumerate(keys):  # else the unique index fails and "send it again" never helps
            if key in seen_keys:
                raise RuleViolation(f"items.{index}", "one_result_per_key",
                                    f"also at items.{seen_keys[key]}: one result per student, subject, kind "
                                    "and round")
            seen_keys[key] = index
        now = datetime.now(timezone.utc)
        try:
            async with self.db.sessions.begin() as session:
                repo = AssessmentRepository(session)
                current = await repo.current(ids)
                owners = await repo.owners_of_natural_keys(keys)
                results, rows, revisions, events = [], [], [], []
                for index, (item, assessment_id, key) in enumerate(zip(items, ids, keys)):
                    owner = owners.get(key)
                    if owner is not None and owner != assessment_id:
                        raise RuleViolation(f"items.{index}" if batch else "assessment_id", "one_result_per_key",
                                            f"assessment {owner} already holds this student, subject, kind and "
                                            "round: revise it instead", status=409)
                    content = _content(item)
                    try:
                        decision, revision = decide_publish(current.get(assessment_id), item.revision, content)
                    except RuleViolation as error:
                        raise error.at_item(index if batch else None) from None
                    if decision == Decision.ALREADY_DONE:
                        results.append(AssessmentOut(assessment_id=assessment_id, revision=revision,
                                                     retracted=False, status="unchanged"))
                        continue
                    event = publishable_event(lambda: AssessmentPublishedV1(
                        assessment_id=assessment_id, revision=revision, published_at=now, **content),
                        source=SOURCE, subject=str(assessment_id), field=f"items.{index}" if batch else "body")
                    events.append(event)
                    rows.append({"assessment_id": assessment_id, "revision": revision, "retracted": False,
                                 **{k: content[k] for k in NATURAL_KEY}, "school_unit_code":
                                 content["school_unit_code"], "group_id": content["group_id"], "content": content})
                    revisions.append({"assessment_id": assessment_id, "revision": revision, "event_id": event.id,
                                      "retraction": False, "content": content})
                    results.append(AssessmentOut(assessment_id=assessment_id, revision=revision, retracted=False,
                                                 status="stored"))
                await repo.save(rows, revisions)
                await self.outbox.add(session, events)
        except IntegrityError as error:  # a concurrent request took the same key or revision
            raise RuleViolation("assessment_id", "concurrent_change",
                                "changed by another request at the same time; send it again", status=409) from error
        return results

    async def retract(self, assessment_id: UUID, request: RetractIn) -> AssessmentOut:
        now = datetime.now(timezone.utc)
        async with self.db.sessions.begin() as session:
            repo = AssessmentRepository(session)
            current = (await repo.current([assessment_id])).get(assessment_id)
            decision, revision = decide_retract(current, request.revision)
            if decision == Decision.ALREADY_DONE:
                return AssessmentOut(assessment_id=assessment_id, revision=revision, retracted=True,
                                     status="unchanged")
            content = current.content
            event = publishable_event(lambda: AssessmentRetractedV1(
                assessment_id=assessment_id, revision=revision, retracted_at=now, reason=request.reason,
                **{k: content[k] for k in RETRACTION_FIELDS}), source=SOURCE, subject=str(assessment_id))
            row = {"assessment_id": assessment_id, "revision": revision, "retracted": True,
                   **{k: content[k] for k in NATURAL_KEY}, "school_unit_code": content["school_unit_code"],
                   "group_id": content["group_id"], "content": content}
            await repo.save([row], [{"assessment_id": assessment_id, "revision": revision, "event_id": event.id,
                                     "retraction": True, "content": {"reason": request.reason}}])
            await self.outbox.add(session, [event])
        return AssessmentOut(assessment_id=assessment_id, revision=revision, retracted=True, status="stored")
