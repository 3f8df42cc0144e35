"""Applies published LIKA self-assessments and action plan changes, keyed by organiser + school unit.

Every event is kept, whoever the directory places its school unit under: whose the unit is decides what is read
(`rules.visible_to`, by the directory as it stands at the read), not what is applied. Decided at the apply, it
depended on which came first of the LIKA record and the directory's (two topics, fetched as they come; the rebuild
applies the whole directory first): an event applied live before its unit was placed under another organiser was
refused by the rebuild, and one refused live (dead-lettered: lost) before the unit moved to its organiser was applied
by the rebuild and shown. Another organiser's event for a unit is shown to no one while the unit is not its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.lika import LikaActionPlanChangedV1, LikaSelfAssessmentPublishedV1
from styrkedja_kit.consumer import Delivered

from ..registry import plain_data
from .tables import save_action_plans, save_self_assessments

EVENT_TYPES = (LikaSelfAssessmentPublishedV1.event_type, LikaActionPlanChangedV1.event_type)


async def apply_lika(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    assessments, plans = [], []
    for item in batch:
        data = plain_data(item.event)
        nested = item.event.data.model_dump(mode="json")
        common = {k: data[k] for k in ("self_assessment_id", "organiser_id", "school_unit_code", "school_form")}
        if item.event.type == LikaSelfAssessmentPublishedV1.event_type:
            assessments.append({**common, "respondent_role": data["respondent_role"],
                                "catalogue_version": data["catalogue_version"],
                                "published_at": data["published_at"], "assessed_on": data.get("assessed_on"),
                                "ratings": nested["ratings"]})
        else:
            plans.append({**common, "revision": data["revision"], "changed_at": data["changed_at"],
                          "items": nested["items"]})
    await save_self_assessments(session, assessments)
    await save_action_plans(session, plans)
