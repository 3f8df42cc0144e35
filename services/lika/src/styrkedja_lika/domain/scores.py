"""Scores (resultat) of a self-assessment per area and overall.

A score is the mean level (0–4) of the scored ratings and the same as a
percentage of the top level (4 = 100 %). ``NOT_RELEVANT`` and unrated
indicators are left out of every score (they are counted separately). The
overall score is the mean over all scored indicators of the school form, so
every indicator weighs the same; with no scored indicator a score is ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict

from .catalogue import Catalogue
from .enums import AREA_ORDER, TOP_LEVEL, Area, Rating, SchoolForm
from .ratings import SelfAssessment

__all__ = ["AreaScore", "ScoreCard", "mean_level", "score_ratings", "score_self_assessment", "to_percent"]


class AreaScore(BaseModel):
    """The score of one area (``area``) or overall (``area is None``)."""

    model_config = ConfigDict(frozen=True)

    area: Area | None
    mean_level: float | None
    percent: float | None
    indicators: int
    scored: int
    not_relevant: int
    unrated: int


class ScoreCard(BaseModel):
    model_config = ConfigDict(frozen=True)

    school_form: SchoolForm
    catalogue_version: str
    areas: Mapping[Area, AreaScore]
    overall: AreaScore

    def series(self) -> tuple[float | None, ...]:
        """Mean levels in area order (Ledning, Infrastruktur, Kompetens, Användning) — a radar series."""
        return tuple(self.areas[a].mean_level for a in AREA_ORDER)


def mean_level(ratings: Iterable[Rating | None]) -> float | None:
    """Mean level of the scored ratings; ``NOT_RELEVANT`` and ``None`` (unrated) are left out."""
    levels = [r.level for r in ratings if r is not None and r.level is not None]
    return sum(levels) / len(levels) if levels else None


def to_percent(level: float | None) -> float | None:
    """A level 0–4 as a percentage of the top level."""
    return None if level is None else level / TOP_LEVEL * 100.0


def _area_score(area: Area | None, ratings: list[Rating | None]) -> AreaScore:
    mean = mean_level(ratings)
    return AreaScore(
        area=area,
        mean_level=mean,
        percent=to_percent(mean),
        indicators=len(ratings),
        scored=sum(1 for r in ratings if r is not None and r.is_scored),
        not_relevant=sum(1 for r in ratings if r is Rating.NOT_RELEVANT),
        unrated=sum(1 for r in ratings if r is None),
    )


def score_ratings(
    catalogue: Catalogue, school_form: SchoolForm | str, ratings: Mapping[str, Rating | None]
) -> ScoreCard:
    """Scores from a plain ``{indicator_id: rating}`` map over the indicators of ``school_form``."""
    form = SchoolForm(school_form)
    per_area: dict[Area, list[Rating | None]] = {a: [] for a in AREA_ORDER}
    for ind in catalogue.indicators_for(form):
        per_area[ind.area].append(ratings.get(ind.id))
    everything = [r for a in AREA_ORDER for r in per_area[a]]
    return ScoreCard(
        school_form=form,
        catalogue_version=catalogue.version,
        areas={a: _area_score(a, per_area[a]) for a in AREA_ORDER},
        overall=_area_score(None, everything),
    )


def score_self_assessment(catalogue: Catalogue, assessment: SelfAssessment) -> ScoreCard:
    """Scores per area and overall of ``assessment`` (which must be for ``catalogue``'s version)."""
    _same_version(catalogue, assessment)
    return score_ratings(
        catalogue, assessment.school_form, {k: e.rating for k, e in assessment.ratings.items()}
    )


def _same_version(catalogue: Catalogue, assessment: SelfAssessment) -> None:
    if assessment.catalogue_version != catalogue.version:
        raise ValueError(
            f"self-assessment {assessment.assessment_id} is for catalogue {assessment.catalogue_version}, "
            f"not {catalogue.version}"
        )
