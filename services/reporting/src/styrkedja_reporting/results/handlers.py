"""Applies assessments and forecasts: per batch and per set. The batch is resolved in memory
(newest revision per fact), the aggregate deltas of all six levels summed in memory, then
written with one statement per table.

The facts this batch changed (old → new, with the placement used) are handed to the capabilities
built on the results (figures, alerts) through `batch_changes(session)`: they run after results in
the same transaction and need not re-read what results has just read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import (
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
)
from styrkedja_kit.consumer import Delivered

from .rules import (
    AssessmentFact,
    ForecastFact,
    Placement,
    assessment_cells,
    assessment_signature,
    fact_maker,
    forecast_cells,
    forecast_signature,
    resolve,
    submitted_day,
)
from .tables import ASSESSMENTS, FORECASTS, FactStore, lock_fact_writers, placement_of

EVENT_TYPES = (AssessmentPublishedV1.event_type, AssessmentRetractedV1.event_type,
               ForecastSubmittedV1.event_type, ForecastWithdrawnV1.event_type)


# Straight from the decoded event's attributes (no `model_dump`, no dict per event): the enums are
# StrEnums, `str()` is their stored value (and a plain string stays itself).
_new_assessment = fact_maker(AssessmentFact)
_new_forecast = fact_maker(ForecastFact)


def _assessment(d: Any) -> AssessmentFact:
    return _new_assessment(d.assessment_id, d.revision, False, d.organiser_id, d.school_unit_code, d.group_id,
                          d.student_id, str(d.gender), d.year, d.subject_code, str(d.kind), str(d.scale), d.value,
                          str(d.school_year), str(d.term), d.round, d.assessed_on, d.published_at)


def _retraction(d: Any) -> AssessmentFact:
    return AssessmentFact(d.assessment_id, d.revision, True, d.organiser_id, d.school_unit_code, d.group_id,
                          d.student_id, "unknown", 0, d.subject_code, "", "", "", str(d.school_year), str(d.term),
                          d.round, None, d.retracted_at)


def _forecast(d: Any) -> ForecastFact:
    return _new_forecast(d.forecast_id, d.revision, False, d.organiser_id, d.school_unit_code, d.group_id,
                        d.student_id, str(d.gender), d.year, d.subject_code, str(d.value), str(d.school_year),
                        str(d.term), d.late, submitted_day(d.submitted_at))


def _withdrawal(d: Any) -> ForecastFact:
    return ForecastFact(d.forecast_id, d.revision, True, d.organiser_id, d.school_unit_code, d.group_id,
                        d.student_id, "unknown", 0, d.subject_code, "", str(d.school_year), str(d.term), False)


_TO_FACT: dict[str, Callable[[Any], AssessmentFact | ForecastFact]] = {
    AssessmentPublishedV1.event_type: _assessment, AssessmentRetractedV1.event_type: _retraction,
    ForecastSubmittedV1.event_type: _forecast, ForecastWithdrawnV1.event_type: _withdrawal,
}


_SCHOOL_UNIT = attrgetter("school_unit_code")


def fact_of(event: Any) -> AssessmentFact | ForecastFact:
    """The fact one decoded assessment or forecast event stands for (the rebuild folds them itself)."""
    return _TO_FACT[event.type](event.data)


@dataclass
class BatchChanges:
    """The facts one batch changed, as (stored before or None, after), and the placement (school
    unit → area) they were counted with. Facts whose content did not change are not listed."""

    assessments: list[tuple[AssessmentFact | None, AssessmentFact]] = field(default_factory=list)
    forecasts: list[tuple[ForecastFact | None, ForecastFact]] = field(default_factory=list)
    placement: Placement = field(default_factory=dict)


_CHANGES = "styrkedja.results.changes"


def batch_changes(session: AsyncSession) -> BatchChanges:
    """What `apply_results` changed in this batch's transaction (empty if it changed nothing)."""
    changes = session.info.get(_CHANGES)
    return changes if isinstance(changes, BatchChanges) else BatchChanges()


async def apply_facts(session: AsyncSession, store: FactStore, cells, incoming: list[Any],
                      signature: Callable[[Any], Any] | None = None) -> tuple[list[Any], Placement]:
    """Fold the batch's facts (`incoming`: (key, fact), the key `store.key_of(fact)`) into the stored ones and
    move the aggregates by the difference.
    Returns the (old, new) pairs that changed and the placement they were counted with. With a
    `signature` (what decides a fact's cells, see `assessment_signature`), the deltas are summed per
    signature first and each expanded once by `signature_cells`; without, `cells` per fact."""
    if not incoming:
        return [], {}
    keys = {key for key, _ in incoming}  # (organiser, id): a record is identified within its organiser
    current = await store.load(session, keys)
    if not current and len(keys) == len(incoming):
        # the usual batch: facts none of which is stored, each once — each is its own newest and changed, in the
        # batch's order (as `resolve` would have them), with nothing before: no lookups of thousands of UUIDs
        # (a UUID's hash is a Python call) to tell what `resolve` and the comparisons below would
        changed = [fact for _, fact in incoming]
        placement = await placement_of(session, set(map(_SCHOOL_UNIT, changed)))
        await store.insert_new(session, changed)  # none stored (`current` empty, locked): a plain insert
        if signature is None:
            change: Counter[Any] = Counter()
            for fact in changed:
                for key in cells(fact, placement):
                    change[key] += 1
            await store.add(session, change)
        else:  # counted per signature in C (`Counter` of an iterable); a fact that counts nowhere is None
            signed: Counter[Any] = Counter(map(signature, changed))
            signed.pop(None, None)
            await store.add_signed(session, signed, placement)
        return [(None, fact) for fact in changed], placement
    after = resolve(current, incoming)
    changed = [fact for fact_id, fact in after.items() if current.get(fact_id) is not fact]
    if not changed:
        return [], {}
    key_of = store.key_of
    old = [current.get(key_of(fact)) for fact in changed]
    placement = await placement_of(session, {f.school_unit_code for f in changed + [o for o in old if o]})
    change = Counter()  # `delta` of every changed fact, summed (zeros are left out when written)
    if signature is None:
        for before, fact in zip(old, changed, strict=True):
            for key in cells(fact, placement):
                change[key] += 1
            for key in cells(before, placement):
                change[key] -= 1
    else:  # facts of one signature count in the same cells: sum per signature, expand each once
        signed = Counter()
        for before, fact in zip(old, changed, strict=True):
            signed[signature(fact)] += 1
            signed[signature(before)] -= 1
        signed.pop(None, None)
    # the facts not stored go in plainly (`insert_new`), the stored ones' new versions by `save`'s upsert: a batch
    # with one revision among thousands of new results does not send them all through ON CONFLICT
    stored = [fact for before, fact in zip(old, changed, strict=True) if before is not None]
    if stored:
        await store.save(session, stored)
    if len(stored) < len(changed):
        await store.insert_new(session, [fact for before, fact in zip(old, changed, strict=True) if before is None])
    if signature is None:
        await store.add(session, change)
    else:  # each signature expanded to its cells (`signature_cells`) and summed per cell by the server
        await store.add_signed(session, signed, placement)
    return [(before, fact) for before, fact in zip(old, changed, strict=True) if before != fact], placement


async def lock_batch_fact_writers(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    """Registered first (before the directory and every reader of facts): `FACT_WRITERS_LOCK` of every organiser
    whose facts, or cells derived from them, the batch writes (results, support, plans; compliance's items, which a
    directory batch re-derives from the reports as a fact batch does), all at once in sorted order. The handlers after it
    take theirs (`lock_fact_writers`: held already, no statement); taken one handler at a time, a batch could
    hold one organiser's and wait for another's that a second batch holds while it waits for the first's."""
    await lock_fact_writers(session, {item.event.data.organiser_id for item in batch})  # type: ignore[attr-defined]


async def apply_results(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    assessments: list[tuple[Any, AssessmentFact]] = []
    forecasts: list[tuple[Any, ForecastFact]] = []
    for item in batch:
        fact = _TO_FACT[item.event.type](item.event.data)
        # keyed within the organiser (`FactStore.key_of`): another organiser's event under the same id is its own
        if isinstance(fact, AssessmentFact):
            assessments.append(((fact.organiser_id, fact.assessment_id), fact))
        else:
            forecasts.append(((fact.organiser_id, fact.forecast_id), fact))
    changes = BatchChanges()
    session.info[_CHANGES] = changes  # replaced every batch: never a previous batch's changes
    changes.assessments, placed_a = await apply_facts(session, ASSESSMENTS, assessment_cells, assessments,
                                                        assessment_signature)
    changes.forecasts, placed_f = await apply_facts(session, FORECASTS, forecast_cells, forecasts,
                                                      forecast_signature)
    changes.placement = {**placed_a, **placed_f}
