"""Applies published LIKA self-assessments and action plan changes, keyed by organiser + school unit.

An event for a school unit that the directory places under another organiser is refused: the
handler raises `SchoolUnitOfAnotherOrganiser`, the kit consumer re-applies the batch event by event
and sends that one to the dead-letter topic (it is a kit `Refused`: `dlq.reason`
school_unit_of_another_organiser), the rest of the batch is applied. A school unit the directory does not know yet is
held, unplaced (see `rules`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.lika import LikaActionPlanChangedV1, LikaSelfAssessmentPublishedV1
from styrkedja_kit.consumer import Delivered, Refused

from ..registry import plain_data
from .rules import refusal
from .tables import owners_of, save_action_plans, save_self_assessments

EVENT_TYPES = (LikaSelfAssessmentPublishedV1.event_type, LikaActionPlanChangedV1.event_type)


class SchoolUnitOfAnotherOrganiser(Refused):
    """A LIKA event for a school unit that the directory places under another organiser.

    A kit `Refused`: the consumer dead-letters the event with `dlq.reason` set to the reason
    (`school_unit_of_another_organiser`); the message names no school data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "LIKA event refused: the directory places this school unit under another organiser")


async def apply_lika(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    datas = [plain_data(item.event) for item in batch]
    owners = await owners_of(session, {data["school_unit_code"] for data in datas})
    assessments, plans = [], []
    for item, data in zip(batch, datas, strict=True):
        reason = refusal(data["organiser_id"], owners.get(data["school_unit_code"], set()))
        if reason is not None:
            raise SchoolUnitOfAnotherOrganiser(reason)
        nested = item.event.data.model_dump(mode="json")
        common = {k: data[k] for k in ("self_assessment_id", "organiser_id", "school_unit_code", "school_form")}
        if item.event.type == LikaSelfAssessmentPublishedV1.event_type:
            assessments.append({**common, "respondent_role": data["respondent_role"],
                                "catalogue_version": data["catalogue_version"],
                                "published_at": data["published_at"], "ratings": nested["ratings"]})
        else:
            plans.append({**common, "revision": data["revision"], "changed_at": data["changed_at"],
                          "items": nested["items"]})
    await save_self_assessments(session, assessments)
    await save_action_plans(session, plans)
