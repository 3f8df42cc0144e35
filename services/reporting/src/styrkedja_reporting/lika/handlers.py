"""Applies published LIKA self-assessments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import LikaSelfAssessmentPublishedV1
from styrkedja_kit.consumer import Delivered

from ..registry import plain_data
from .tables import save_lika

EVENT_TYPES = (LikaSelfAssessmentPublishedV1.event_type,)


async def apply_lika(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    rows = []
    for item in batch:
        data = plain_data(item.event)
        rows.append({
            "school_unit_code": data["school_unit_code"], "organiser_id": data["organiser_id"],
            "self_assessment_id": data["self_assessment_id"], "school_form": data["school_form"],
            "respondent_role": data["respondent_role"], "catalogue_version": data["catalogue_version"],
            "published_at": data["published_at"],
            "ratings": item.event.data.model_dump(mode="json")["ratings"]})
    await save_lika(session, rows)
