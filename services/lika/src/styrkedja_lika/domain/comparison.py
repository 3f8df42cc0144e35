"""Comparison of two self-assessments of a school (jämförelse).

Works over time (the same rater, two dates) and between raters (e.g. rektor
against ikt-samordnare). Both must be of the same school form. When the two
are made against different catalogue versions, only the indicators both
versions share (same stable id) are compared; the others are listed in
``only_in_first`` / ``only_in_second``.

* per indicator: both ratings and the change in levels (``second - first``;
  ``None`` when either side is ``NOT_RELEVANT`` or unrated);
* radar data: one series per self-assessment, with the areas as axes (mean
  level of the shared, scored indicators of each area), and for each area a
  radar with its indicators as axes;
* discussion points: the indicators where the two differ by two steps or more,
  largest difference first, then in catalogue order.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from .catalogue import Catalogue
from .enums import AREA_ORDER, Area, Rating, SchoolForm
from .ratings import SelfAssessment
from .scores import mean_level

__all__ = [
    "Comparison",
    "IndicatorComparison",
    "NotComparable",
    "RadarSeries",
    "DISCUSSION_THRESHOLD",
    "compare_self_assessments",
]

DISCUSSION_THRESHOLD = 2


class NotComparable(ValueError):
    """The two self-assessments cannot be compared (different school forms, unknown catalogue)."""


class IndicatorComparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    indicator_id: str
    title: str
    area: Area
    first: Rating | None
    second: Rating | None
    first_comment: str | None = None
    second_comment: str | None = None
    change: int | None
    steps_apart: int | None


class RadarSeries(BaseModel):
    """Radar-chart data: ``axes`` (ids) with ``labels``, and one value list per self-assessment."""

    model_config = ConfigDict(frozen=True)

    axes: tuple[str, ...]
    labels: tuple[str, ...]
    first: tuple[float | None, ...]
    second: tuple[float | None, ...]


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    first_assessment_id: str
    second_assessment_id: str
    school_form: SchoolForm
    first_catalogue_version: str
    second_catalogue_version: str
    indicators: tuple[IndicatorComparison, ...]
    area_radar: RadarSeries
    indicator_radars: Mapping[Area, RadarSeries]
    discussion_points: tuple[IndicatorComparison, ...]
    only_in_first: tuple[str, ...]
    only_in_second: tuple[str, ...]

    @property
    def left_out(self) -> tuple[str, ...]:
        """Indicators not compared because only one of the two catalogue versions has them."""
        return self.only_in_first + self.only_in_second

    def indicator(self, indicator_id: str) -> IndicatorComparison:
        for row in self.indicators:
            if row.indicator_id == indicator_id:
                return row
        raise KeyError(indicator_id)


def _catalogue(catalogues: Mapping[str, Catalogue], a: SelfAssessment) -> Catalogue:
    try:
        return catalogues[a.catalogue_version]
    except KeyError:
        raise NotComparable(f"unknown catalogue version {a.catalogue_version} of {a.assessment_id}") from None


def compare_self_assessments(
    first: SelfAssessment,
    second: SelfAssessment,
    catalogues: Mapping[str, Catalogue],
    *,
    discussion_threshold: int = DISCUSSION_THRESHOLD,
) -> Comparison:
    """Compare ``first`` (e.g. the earlier one) with ``second``; ``catalogues`` maps version → catalogue."""
    if first.school_form is not second.school_form:
        raise NotComparable(
            f"{first.assessment_id} is for {first.school_form}, {second.assessment_id} for {second.school_form}"
        )
    cat_a = _catalogue(catalogues, first)
    cat_b = _catalogue(catalogues, second)
    form = first.school_form
    ids_a = cat_a.indicator_ids(form)
    ids_b = cat_b.indicator_ids(form)
    shared = [i for i in ids_b if cat_a.has_indicator(i) and i in set(ids_a)]
    only_a = tuple(i for i in ids_a if i not in set(ids_b))
    only_b = tuple(i for i in ids_b if i not in set(ids_a))

    rows = []
    for ind_id in shared:
        ind = cat_b.indicator(ind_id)
        ra, rb = first.rating_of(ind_id), second.rating_of(ind_id)
        la = ra.level if ra is not None else None
        lb = rb.level if rb is not None else None
        change = lb - la if la is not None and lb is not None else None
        ea, eb = first.ratings.get(ind_id), second.ratings.get(ind_id)
        rows.append(
            IndicatorComparison(
                indicator_id=ind_id,
                title=ind.title,
                area=ind.area,
                first=ra,
                second=rb,
                first_comment=ea.comment if ea else None,
                second_comment=eb.comment if eb else None,
                change=change,
                steps_apart=abs(change) if change is not None else None,
            )
        )

    def by_area(area: Area) -> list[IndicatorComparison]:
        return [r for r in rows if r.area is area]

    area_radar = RadarSeries(
        axes=tuple(a.value for a in AREA_ORDER),
        labels=tuple(cat_b.area_labels[a] for a in AREA_ORDER),
        first=tuple(mean_level(r.first for r in by_area(a)) for a in AREA_ORDER),
        second=tuple(mean_level(r.second for r in by_area(a)) for a in AREA_ORDER),
    )
    indicator_radars = {
        a: RadarSeries(
            axes=tuple(r.indicator_id for r in by_area(a)),
            labels=tuple(r.title for r in by_area(a)),
            first=tuple(_level(r.first) for r in by_area(a)),
            second=tuple(_level(r.second) for r in by_area(a)),
        )
        for a in AREA_ORDER
    }
    order = {r.indicator_id: n for n, r in enumerate(rows)}
    discussion = sorted(
        (r for r in rows if r.steps_apart is not None and r.steps_apart >= discussion_threshold),
        key=lambda r: (-(r.steps_apart or 0), AREA_ORDER.index(r.area), order[r.indicator_id]),
    )
    return Comparison(
        first_assessment_id=first.assessment_id,
        second_assessment_id=second.assessment_id,
        school_form=form,
        first_catalogue_version=cat_a.version,
        second_catalogue_version=cat_b.version,
        indicators=tuple(rows),
        area_radar=area_radar,
        indicator_radars=indicator_radars,
        discussion_points=tuple(discussion),
        only_in_first=only_a,
        only_in_second=only_b,
    )


def _level(rating: Rating | None) -> float | None:
    return float(rating.level) if rating is not None and rating.level is not None else None
