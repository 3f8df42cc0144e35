from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

Level = Literal["group", "school_unit", "organiser"]


class ResultCell(BaseModel):
    """One cell of the report: a unit at one level, one subject and period."""

    level: Level
    unit_id: str
    subject_code: str
    school_year: str
    term: str
    round: int | None = None
    kind: str | None = None
    scale: str
    gender: str | None = None
    year: int | None = None
    distribution: dict[str, int]
    assessed: int
    reaching_pass: int
    share_reaching_pass: float | None


class LikaUnit(BaseModel):
    school_unit_code: str
    organiser_id: str
    self_assessment_id: str
    school_form: str
    respondent_role: str
    catalogue_version: str
    published_at: datetime
    ratings: list[dict]


class Consistency(BaseModel):
    assessment_cell_mismatches: int
    forecast_cell_mismatches: int
    consistent: bool
