"""Use cases of the reporting service. The consumer loop owns the transaction: it hands each
batch of new (never seen) events to `apply_batch` inside the same transaction that records
their ids and the partition offsets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.consumer import Delivered

from . import persistence as db
from .domain import (
    AssessmentFact,
    ForecastFact,
    assessment_cells,
    delta,
    fold,
    forecast_cells,
    retraction_of,
    withdrawal_of,
)

ASSESSMENT_PUBLISHED = "se.styrkedja.assessment.published.v1"
ASSESSMENT_RETRACTED = "se.styrkedja.assessment.retracted.v1"
FORECAST_SUBMITTED = "se.styrkedja.forecast.submitted.v1"
FORECAST_WITHDRAWN = "se.styrkedja.forecast.withdrawn.v1"
LIKA_PUBLISHED = "se.styrkedja.lika.self_assessment_published.v1"

_FACT_FIELDS = {f for f in AssessmentFact.__dataclass_fields__}
_FORECAST_FIELDS = {f for f in ForecastFact.__dataclass_fields__}
_RETRACT_KEEP = ("assessment_id", "organiser_id", "school_unit_code", "group_id", "student_id", "subject_code",
                 "school_year", "term", "round")
_WITHDRAW_KEEP = ("forecast_id", "organiser_id", "school_unit_code", "group_id", "student_id", "subject_code",
                  "school_year", "term")


def _assessment_fact(data: dict) -> AssessmentFact:
    return AssessmentFact(retracted=False, **{k: v for k, v in data.items() if k in _FACT_FIELDS})


def _forecast_fact(data: dict) -> ForecastFact:
    return ForecastFact(withdrawn=False, **{k: v for k, v in data.items() if k in _FORECAST_FIELDS})


async def _apply_facts(session: AsyncSession, store: db.FactStore, cells, events: list[tuple[str, dict]],
                       to_fact, to_removal, removal_fields: tuple[str, ...]) -> None:
    """Fold the batch's events into the stored facts and move the aggregates by the difference."""
    if not events:
        return
    id_field = store.id_column.name
    current = await store.load(session, {data[id_field] for _, data in events})
    before = dict(current)
    for kind, data in events:
        fact_id = data[id_field]
        incoming = to_fact(data) if kind == "add" else to_removal(data["revision"], {
            k: data[k] for k in removal_fields})
        current[fact_id] = fold(current.get(fact_id), incoming)
    changed = [fact for fact_id, fact in current.items() if before.get(fact_id) is not fact]
    change = Counter()
    for fact in changed:
        change.update(delta(cells, before.get(getattr(fact, id_field)), fact))
    await store.save(session, changed)
    await store.add(session, Counter({k: v for k, v in change.items() if v}))


async def apply_batch(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    assessments, forecasts = [], []
    for item in batch:
        event = item.event
        data = event.data.model_dump(mode="python")
        for key, value in data.items():  # enums → their plain values, as stored
            if hasattr(value, "value"):
                data[key] = value.value
        if event.type == ASSESSMENT_PUBLISHED:
            assessments.append(("add", data))
        elif event.type == ASSESSMENT_RETRACTED:
            assessments.append(("remove", data))
        elif event.type == FORECAST_SUBMITTED:
            forecasts.append(("add", data))
        elif event.type == FORECAST_WITHDRAWN:
            forecasts.append(("remove", data))
        elif event.type == LIKA_PUBLISHED:
            await db.save_lika(session, {
                "school_unit_code": data["school_unit_code"], "organiser_id": data["organiser_id"],
                "self_assessment_id": data["self_assessment_id"], "school_form": data["school_form"],
                "respondent_role": data["respondent_role"], "catalogue_version": data["catalogue_version"],
                "published_at": data["published_at"],
                "ratings": event.data.model_dump(mode="json")["ratings"]})
        # other registered types (organisation, support) are not reported yet: recorded as applied, ignored
    await _apply_facts(session, db.ASSESSMENTS, assessment_cells, assessments, _assessment_fact, retraction_of,
                       _RETRACT_KEEP)
    await _apply_facts(session, db.FORECASTS, forecast_cells, forecasts, _forecast_fact, withdrawal_of,
                       _WITHDRAW_KEEP)
