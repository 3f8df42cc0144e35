"""Use cases of the LIKA service; each call is one transaction (domain rows + outbox).

For now only the door for self-assessments published elsewhere; catalogue validation, drafts and
the action plan come with the LIKA tool itself."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from styrkedja_contracts.events.lika import LikaSelfAssessmentPublishedV1
from styrkedja_kit.db import Database
from styrkedja_kit.outbox import Outbox
from styrkedja_kit.rules import RuleViolation, publishable_event

from .persistence import SelfAssessmentRepository
from .schemas import SelfAssessmentOut, SelfAssessmentPublishedIn

SOURCE = "/styrkedja/lika"


def check_unique_indicators(item: SelfAssessmentPublishedIn) -> None:
    seen: dict[str, int] = {}
    for index, rating in enumerate(item.ratings):
        if rating.indicator_id in seen:
            raise RuleViolation(f"ratings.{index}.indicator_id", "unique_indicator",
                                f"indicator {rating.indicator_id!r} is already rated at "
                                f"ratings.{seen[rating.indicator_id]}")
        seen[rating.indicator_id] = index


def _content(item: SelfAssessmentPublishedIn) -> dict:
    return item.model_dump(mode="json", exclude={"self_assessment_id"})


class LikaService:
    def __init__(self, db: Database, outbox: Outbox, max_event_bytes: int) -> None:
        self.db = db
        self.outbox = outbox
        self.max_event_bytes = max_event_bytes

    def _event(self, self_assessment_id: uuid.UUID, content: dict, now: datetime):
        event = publishable_event(lambda: LikaSelfAssessmentPublishedV1(
            self_assessment_id=self_assessment_id, published_at=now, **content),
            source=SOURCE, subject=str(self_assessment_id))
        size = len(event.to_bytes())
        if size > self.max_event_bytes:
            raise RuleViolation("ratings", "event_size_limit",
                                f"the published self-assessment would be {size} bytes, the limit is "
                                f"{self.max_event_bytes}: shorten the comments")
        return event

    async def publish(self, item: SelfAssessmentPublishedIn) -> SelfAssessmentOut:
        """Store a published self-assessment and its event; the same id and content again is a no-op."""
        check_unique_indicators(item)
        self_assessment_id = item.self_assessment_id or uuid.uuid4()
        content = _content(item)
        now = datetime.now(timezone.utc)
        event = self._event(self_assessment_id, content, now)
        async with self.db.sessions.begin() as session:
            repo = SelfAssessmentRepository(session)
            if await repo.insert_new({"self_assessment_id": self_assessment_id, **content, "event_id": event.id,
                                      "published_at": now}):
                await self.outbox.add(session, [event])
                return SelfAssessmentOut(self_assessment_id=self_assessment_id, published_at=now, status="stored")
            stored = await repo.published(self_assessment_id)
        published_at = stored.pop("published_at")
        if stored != content:
            raise RuleViolation("self_assessment_id", "published_is_final",
                                "a different self-assessment is already published under this id; "
                                "publish a change under a new id", status=409)
        return SelfAssessmentOut(self_assessment_id=self_assessment_id, published_at=published_at,
                                 status="unchanged")
