"""Use cases of support interventions, on the kit's one write path: each call one transaction
(current row, audit row, outbox event), all or nothing, every bad item named. The event is
built field by field from what may leave the service: never the description."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.support import (
    InterventionKind,
    InterventionStatus,
    SupportInterventionRecordedV1,
    SupportInterventionRetractedV1,
)
from styrkedja_kit.auth import Principal, Write
from styrkedja_kit.db import Database
from styrkedja_kit.outbox import Outbox
from styrkedja_kit.rules import RuleViolation
from styrkedja_kit.writes import Built, Change, Outcome, RequestItems, WritePath, answer_fields, encoded_batch_answer

from .rules import Intervention, StoredInvestigation, check_intervention, check_investigation_basis, check_recorder
from .schemas import InterventionIn, InterventionOut, InterventionRetractIn
from .tables import TABLES, investigations

SOURCE = "/styrkedja/assessment/support"
#: What leaves the service in an event: ids, kind, status, subject, dates, outcome, deciding role.
EVENT_FIELDS = ("organiser_id", "school_unit_code", "group_id", "student_id", "subject_code", "kind", "status",
                "start_date", "evaluation_date", "evaluation_outcome", "decided_by_role", "decided_on",
                "investigation_id")
RETRACTION_FIELDS = ("organiser_id", "school_unit_code", "group_id", "student_id", "kind", "subject_code")
COLUMNS = ("organiser_id", "school_unit_code", "group_id", "student_id", "kind", "status", "subject_code")


_items = RequestItems(InterventionIn, "intervention_id")
_answer = answer_fields(TABLES)


def _rules_view(item: InterventionIn) -> Intervention:
    return Intervention(item.kind, item.status, item.start_date, item.evaluation_date, item.evaluation_outcome,
                        item.decided_by_role, item.decided_on, item.investigation_id)


def _built(change: Change, revision: int, now: datetime) -> Built:
    data = SupportInterventionRecordedV1(intervention_id=change.record_id, revision=revision, recorded_at=now,
                                         **{k: change.content[k] for k in EVENT_FIELDS})
    return Built(data, columns={k: change.content[k] for k in COLUMNS})


def _out(outcome: Outcome) -> InterventionOut:
    return InterventionOut(**_answer(outcome))


class SupportService:
    def __init__(self, db: Database, outbox: Outbox, principal: Principal, *, max_batch_items: int = 1000) -> None:
        self.principal = principal
        self.writes = WritePath(db, outbox, TABLES, source=SOURCE, max_batch_items=max_batch_items,
                                writer=(principal, Write.SUPPORT))

    async def record(self, items: Sequence[InterventionIn], *, batch: bool = False,
                     caller_role: str | None = None) -> list[InterventionOut]:
        """Store a new revision of each intervention and its event, all or nothing. First of all, every
        item's organiser must be one this token writes for (403 naming each one that is not).
        `caller_role`: the token's role (`rules.check_recorder`); None checks no caller."""
        return [_out(o) for o in await self.store(items, batch=batch, caller_role=caller_role)]

    async def record_batch(self, items: Sequence[InterventionIn], *, caller_role: str | None = None
                           ) -> tuple[int, bytes]:
        """`record` of a batch: its status and its answer encoded as `InterventionBatchOut`."""
        return encoded_batch_answer(await self.store(items, batch=True, caller_role=caller_role), _answer)

    async def store(self, items: Sequence[InterventionIn], *, batch: bool = False,
                    caller_role: str | None = None) -> list[Outcome]:
        """What `record` does, answered as the write path's outcomes."""
        self.writes.require_writer([item.organiser_id for item in items], batch=batch)
        violations: list[RuleViolation] = []
        for index, item in enumerate(items):
            view = _rules_view(item)
            found = check_recorder(caller_role, view) + check_intervention(view)
            violations += [v.at_item(index if batch else None) for v in found]
        changes = _items.changes(items)
        # an investigation decided earlier in the same batch is a basis too
        in_batch = {change.record_id: StoredInvestigation(item.kind, item.status, item.organiser_id,
                                                          item.student_id, False)
                    for change, item in zip(changes, items, strict=True)}

        async def bases(session: AsyncSession, changes: Sequence[Change]) -> list[RuleViolation | None]:
            named = [c.content.get("investigation_id") for c in changes]
            stored = await investigations(session, [UUID(n) for n in named if n])
            found: list[RuleViolation | None] = []
            for index, (change, name) in enumerate(zip(changes, named, strict=True)):
                if name is None or change.content["kind"] not in (InterventionKind.action_programme,
                                                                  InterventionKind.special_support):
                    found.append(None)
                    continue
                basis = in_batch.get(UUID(name)) or stored.get(UUID(name))
                error = check_investigation_basis(change.content["organiser_id"], change.content["student_id"],
                                                  basis)
                found.append(error.at_item(index if batch else None) if error else None)
            return found

        return await self.writes.publish(changes, _built, batch=batch, violations=violations, stored_check=bases)

    async def retract(self, intervention_id: UUID, request: InterventionRetractIn) -> InterventionOut:
        def built(row: Mapping[str, Any], revision: int, now: datetime) -> Built:
            content = row["content"]
            return Built(SupportInterventionRetractedV1(intervention_id=intervention_id, revision=revision,
                                                        retracted_at=now,
                                                        **{k: content[k] for k in RETRACTION_FIELDS}))

        return _out(await self.writes.remove(intervention_id, request.revision, built))


__all__ = ["InterventionStatus", "SupportService"]
