"""Dip alerts (larm): raised when a figure of a cell dips, resolved when it recovers.

Published by reporting through its outbox on `styrkedja.alerts`, for other systems (mail, chat, a
municipality's case system) to subscribe to. `alert_id` is stable: the same cell, period and rule
always give the same id (UUIDv5, see `alert_id_for`), so a replay or rebuild never raises a second
alert. A cell that recovers and dips again in the same period *reopens* the same alert: the event
is then sent again with the same `alert_id` and the next `episode` — subscribers deduplicate on
(`alert_id`, `episode`).

An event says which alert, about which cell, period and rule — ids and levels — never its figures (students, shares,
a freshness age): the topic carries every organiser's alerts to whichever system subscribes, with no reader whose
scope and disclosure could be applied, and what is sent cannot be withheld later (a complement the figures' decision
withholds once more results arrive). A subscriber reads the figures through `GET /v1/alerts` with its own token."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field, model_validator

from ..identifiers import OrganiserId, SchoolYear, SubjectCode, Term
from .base import ContractModel, EventData, Round, Timestamp, Year

__all__ = [
    "ALERT_NAMESPACE",
    "AlertLevel",
    "AlertRule",
    "AlertCellFields",
    "AlertFigures",
    "AlertRaisedV1",
    "AlertResolvedV1",
    "ResolvedReason",
    "alert_id_for",
    "period_key",
]

ALERT_NAMESPACE = UUID("3b9e6c1d-2f4a-5b7e-8c90-1d2e3f4a5b6c")

UnitId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$",
                              description="Group id, school unit code, area id or organiser id (by `level`).")]
Points = Annotated[float, Field(ge=-100, le=100, description="Percentage points.")]
ShareValue = Annotated[float, Field(ge=0, le=1)]


class AlertLevel(StrEnum):
    """The level of the chain the alerting cell belongs to."""

    group = "group"
    school_unit = "school_unit"
    area = "area"
    organiser = "organiser"


class AlertRule(StrEnum):
    """Which dip: the share reaching the pass level fell against the previous period; the outcome
    fell below its forecast; the newest result grew old (freshness red)."""

    pass_share_drop = "pass_share_drop"
    below_forecast = "below_forecast"
    freshness_red = "freshness_red"


class ResolvedReason(StrEnum):
    recovered = "recovered"  # the figure no longer dips
    too_few_students = "too_few_students"  # the cell shrank below the minimum (retractions): no longer judged
    no_data = "no_data"  # nothing left to compare


class AlertFigures(ContractModel):
    """The figures that triggered (or resolved) the alert. Counts, never students."""

    students: int = Field(ge=0, description="Students (results) behind the cell's figure.")
    compared_students: int | None = Field(default=None, ge=0, description="Students behind the figure compared with.")
    share: ShareValue | None = Field(default=None, description="Share reaching the pass level now.")
    compared_share: ShareValue | None = Field(default=None, description="The previous period's share, or the forecast's.")
    change_points: Points | None = Field(default=None, description="share − compared_share, in percentage points.")
    threshold_points: float | None = Field(default=None, ge=0, le=100)
    newest_result_on: date | None = None
    age_days: int | None = Field(default=None, ge=0)


def period_key(school_year: str, term: str | None = None, round_: int | None = None) -> str:
    """Canonical period in an alert key: `2026/27:VT` for a term, `2026/27:R2` for a round."""
    if (term is None) == (round_ is None):
        raise ValueError("a period is a term or a round: give exactly one of term and round")
    return f"{school_year}:{Term(term).value}" if term is not None else f"{school_year}:R{round_}"


def alert_id_for(organiser_id: str, level: str, unit_id: str, subject_code: str | None, year: int | None,
                 period: str, rule: str) -> UUID:
    """The stable alert id: UUIDv5 over the canonical key organiser | level | unit | subject | year |
    period | rule; an absent subject or year is the empty string, `period` is a `period_key`."""
    key = "|".join((organiser_id, str(level), unit_id, subject_code or "", "" if year is None else str(year),
                    period, str(rule)))
    return uuid.uuid5(ALERT_NAMESPACE, key)


class AlertCellFields(ContractModel):
    """What an alert is about: the fields both alert events share."""

    alert_id: UUID
    organiser_id: OrganiserId
    level: AlertLevel
    unit_id: UnitId
    subject_code: SubjectCode | None = None
    year: Year | None = Field(default=None, description="Årskurs; absent when the cell covers every year.")
    school_year: SchoolYear
    term: Term | None = Field(default=None, description="The term of a term period.")
    round: Round | None = Field(default=None, description="The round of a round period.")
    rule: AlertRule
    episode: int = Field(1, ge=1, description="1, then +1 each time the alert is reopened by a new dip.")
    figures: AlertFigures | None = Field(default=None, description=(
        "Null since round 24 (never sent): an alert's figures are read with `GET /v1/alerts`, where the reader's "
        "scope and disclosure apply (a count of a few students, a withheld year's complement); the topic has no "
        "reader to judge them for. Events published before carry them."))

    @model_validator(mode="after")
    def _one_period(self) -> AlertCellFields:
        if (self.term is None) == (self.round is None):
            raise ValueError("a period is a term or a round: give exactly one of term and round")
        return self


class AlertRaisedV1(EventData, AlertCellFields):
    """A dip alert was raised (episode 1) or reopened by a new dip (episode > 1)."""

    event_type: ClassVar[str] = "se.styrkedja.alert.raised.v1"

    raised_at: Timestamp


class AlertResolvedV1(EventData, AlertCellFields):
    """A dip alert was resolved: the figure recovered, or can no longer be judged."""

    event_type: ClassVar[str] = "se.styrkedja.alert.resolved.v1"

    reason: ResolvedReason
    resolved_at: Timestamp
