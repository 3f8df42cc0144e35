"""Use cases of the forecast service; each call is one transaction (domain rows + outbox)."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from styrkedja_contracts import forecast_id_for
from styrkedja_contracts.events.forecast import ForecastSubmittedV1, ForecastWithdrawnV1
from styrkedja_kit.db import Database
from styrkedja_kit.outbox import Outbox
from styrkedja_kit.rules import RuleViolation, publishable_event

from .domain import (
    DEFAULT_WINDOWS,
    Decision,
    WindowConfig,
    check_value,
    decide_submit,
    decide_withdraw,
    evaluate_window,
)
from .persistence import ForecastRepository
from .schemas import ForecastIn, ForecastOut, WithdrawIn

SOURCE = "/styrkedja/forecast"

#: What a withdrawal event repeats of the withdrawn forecast.
WITHDRAWN_FIELDS = ("organiser_id", "school_unit_code", "group_id", "student_id", "subject_code", "school_year",
                    "term")


def _content(item: ForecastIn) -> dict:
    return item.model_dump(mode="json", exclude={"forecast_id", "revision"})


def _derived_id(item: ForecastIn) -> UUID:
    return forecast_id_for(item.organiser_id, item.student_id, item.subject_code, item.school_year,
                           item.term.value)


def _concurrent_change() -> RuleViolation:
    return RuleViolation("forecast_id", "concurrent_change",
                         "changed by another request at the same time; send it again", status=409)


class ForecastService:
    def __init__(self, db: Database, outbox: Outbox, windows: WindowConfig = DEFAULT_WINDOWS) -> None:
        self.db = db
        self.outbox = outbox
        self.windows = windows

    def _checked_ids(self, items: list[ForecastIn], batch: bool) -> list[UUID]:
        ids, seen = [], {}
        for index, item in enumerate(items):
            at = index if batch else None
            try:
                check_value(item.value)
            except RuleViolation as error:
                raise error.at_item(at) from None
            forecast_id = _derived_id(item)
            if item.forecast_id is not None and item.forecast_id != forecast_id:
                raise RuleViolation(
                    "forecast_id", "derived_from_key",
                    f"the forecast of this organiser, student, subject, school year and term is {forecast_id}; "
                    "omit forecast_id or send that one").at_item(at)
            if forecast_id in seen:
                raise RuleViolation(f"items.{index}.forecast_id", "unique_in_batch",
                                    f"the same organiser, student, subject, school year and term as "
                                    f"items.{seen[forecast_id]}; send one forecast per student, subject and term")
            seen[forecast_id] = index
            ids.append(forecast_id)
        return ids

    async def submit(self, items: list[ForecastIn], *, batch: bool = False) -> list[ForecastOut]:
        """Store a new revision of each changed forecast and its event, all or nothing."""
        ids = self._checked_ids(items, batch)
        for attempt in (1, 2):
            try:
                return await self._submit_once(items, ids, batch)
            except IntegrityError as error:
                # A concurrent request stored a new forecast of this batch first. Once more: the stored
                # rows are then seen (and locked), so a parallel re-send becomes `unchanged`.
                if attempt == 2:
                    raise _concurrent_change() from error
        raise AssertionError("unreachable")

    async def _submit_once(self, items: list[ForecastIn], ids: list[UUID], batch: bool) -> list[ForecastOut]:
        now = datetime.now(timezone.utc)
        async with self.db.sessions.begin() as session:
            repo = ForecastRepository(session)
            current = await repo.current(ids)
            results, rows, revisions, events = [], [], [], []
            for index, (item, forecast_id) in enumerate(zip(items, ids)):
                content = _content(item)
                stored = current.get(forecast_id)
                try:
                    decision, revision = decide_submit(stored, item.revision, content)
                except RuleViolation as error:
                    raise error.at_item(index if batch else None) from None
                if decision == Decision.ALREADY_DONE:
                    results.append(ForecastOut(forecast_id=forecast_id, revision=revision, withdrawn=False,
                                               late=stored.late, window_deadline=stored.window_deadline,
                                               status="unchanged"))
                    continue
                window = evaluate_window(item.school_year, item.term, now, self.windows)
                event = publishable_event(lambda: ForecastSubmittedV1(
                    forecast_id=forecast_id, revision=revision, submitted_at=now,
                    window_deadline=window.deadline, late=window.late, **content),
                    source=SOURCE, subject=str(forecast_id), field=f"items.{index}" if batch else "body")
                events.append(event)
                rows.append({"forecast_id": forecast_id, "revision": revision, "withdrawn": False,
                             **{k: content[k] for k in ("organiser_id", "school_unit_code", "group_id",
                                                        "student_id", "teacher_id", "subject_code", "year",
                                                        "school_year", "term", "value")},
                             "submitted_at": now, "window_deadline": window.deadline, "late": window.late,
                             "content": content})
                revisions.append({"forecast_id": forecast_id, "revision": revision, "event_id": event.id,
                                  "withdrawal": False, "late": window.late, "content": content})
                results.append(ForecastOut(forecast_id=forecast_id, revision=revision, withdrawn=False,
                                           late=window.late, window_deadline=window.deadline,
                                           status="stored"))
            await repo.save(rows, revisions)
            await self.outbox.add(session, events)
        return results

    async def withdraw(self, forecast_id: UUID, request: WithdrawIn) -> ForecastOut:
        now = datetime.now(timezone.utc)
        try:
            async with self.db.sessions.begin() as session:
                repo = ForecastRepository(session)
                current = (await repo.current([forecast_id])).get(forecast_id)
                decision, revision = decide_withdraw(current, request.revision)
                if decision == Decision.ALREADY_DONE:
                    return ForecastOut(forecast_id=forecast_id, revision=revision, withdrawn=True,
                                       late=current.late, window_deadline=current.window_deadline,
                                       status="unchanged")
                event = publishable_event(lambda: ForecastWithdrawnV1(
                    forecast_id=forecast_id, revision=revision, withdrawn_at=now,
                    **{k: current.content[k] for k in WITHDRAWN_FIELDS}),
                    source=SOURCE, subject=str(forecast_id), field="forecast_id")
                await repo.mark_withdrawn(forecast_id, revision, {
                    "forecast_id": forecast_id, "revision": revision, "event_id": event.id, "withdrawal": True,
                    "late": current.late, "content": {}})
                await self.outbox.add(session, [event])
        except IntegrityError as error:
            raise _concurrent_change() from error
        return ForecastOut(forecast_id=forecast_id, revision=revision, withdrawn=True, late=current.late,
                           window_deadline=current.window_deadline, status="stored")
