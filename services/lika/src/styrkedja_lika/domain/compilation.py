"""Compilation (sammanställning) of an organiser's school units.

Takes the **latest published** self-assessment of every school unit (and
school form) of one organiser — latest by ``published_at``, then
``assessed_on``, then ``assessment_id`` — whoever the rater was. Drafts and
private self-assessments are never compiled. Per school form it gives:

* a unit × indicator matrix of ratings. The columns are the indicators of the
  newest catalogue version in use, followed by any indicator that only an
  older version in use still has; a cell is ``None`` when the unit's version
  lacks the indicator;
* per-area means (level 0–4, ``NOT_RELEVANT`` left out) per unit, and across
  units as the mean of the unit means (every unit weighs the same);
* the to-do view: indicators rated ``PLANNED`` whose plan has priority-1
  activities (plan priority, see :mod:`.action_plan`), with the units that
  share them, sorted by how many units share them (most first), then by area
  and catalogue order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from .action_plan import order_activities
from .catalogue import Catalogue, version_key
from .enums import AREA_ORDER, Area, AssessmentStatus, Rating, RespondentRole, SchoolForm
from .ratings import SelfAssessment
from .scores import score_ratings

__all__ = [
    "Compilation",
    "FormCompilation",
    "TodoItem",
    "UnitRow",
    "compile_organiser",
    "latest_published",
]


class UnitRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    school_unit_code: str
    assessment_id: str
    catalogue_version: str
    respondent_role: RespondentRole
    published_at: datetime
    ratings: Mapping[str, Rating | None]
    area_means: Mapping[Area, float | None]
    overall_mean: float | None


class TodoItem(BaseModel):
    """An indicator rated ``PLANNED`` with priority-1 activities, and the units that share it."""

    model_config = ConfigDict(frozen=True)

    indicator_id: str
    title: str
    area: Area
    school_unit_codes: tuple[str, ...]
    activity_ids: tuple[str, ...]

    @property
    def unit_count(self) -> int:
        return len(self.school_unit_codes)


class FormCompilation(BaseModel):
    model_config = ConfigDict(frozen=True)

    school_form: SchoolForm
    catalogue_version: str
    indicator_ids: tuple[str, ...]
    indicator_titles: tuple[str, ...]
    units: tuple[UnitRow, ...]
    area_means: Mapping[Area, float | None]
    overall_mean: float | None
    todo: tuple[TodoItem, ...]

    def cell(self, school_unit_code: str, indicator_id: str) -> Rating | None:
        return self.unit(school_unit_code).ratings.get(indicator_id)

    def unit(self, school_unit_code: str) -> UnitRow:
        for row in self.units:
            if row.school_unit_code == school_unit_code:
                return row
        raise KeyError(school_unit_code)

    def matrix(self) -> tuple[tuple[Rating | None, ...], ...]:
        """Rows in ``units`` order, columns in ``indicator_ids`` order."""
        return tuple(tuple(row.ratings.get(i) for i in self.indicator_ids) for row in self.units)


class Compilation(BaseModel):
    model_config = ConfigDict(frozen=True)

    organiser_id: str
    forms: tuple[FormCompilation, ...]

    def form(self, school_form: SchoolForm | str) -> FormCompilation:
        wanted = SchoolForm(school_form)
        for f in self.forms:
            if f.school_form is wanted:
                return f
        raise KeyError(wanted)


def _latest_key(a: SelfAssessment) -> tuple[datetime, object, str]:
    assert a.published_at is not None
    return (a.published_at, a.assessed_on, a.assessment_id)


def latest_published(
    assessments: Iterable[SelfAssessment], organiser_id: str | None = None
) -> dict[tuple[str, SchoolForm], SelfAssessment]:
    """The latest published self-assessment per (school unit, school form)."""
    latest: dict[tuple[str, SchoolForm], SelfAssessment] = {}
    for a in assessments:
        if a.status is not AssessmentStatus.PUBLISHED or a.published_at is None:
            continue
        if organiser_id is not None and a.organiser_id != organiser_id:
            continue
        key = (a.school_unit_code, a.school_form)
        if key not in latest or _latest_key(a) > _latest_key(latest[key]):
            latest[key] = a
    return latest


def compile_organiser(
    organiser_id: str, assessments: Iterable[SelfAssessment], catalogues: Mapping[str, Catalogue]
) -> Compilation:
    """Compile the latest published self-assessments of ``organiser_id``'s school units.

    Self-assessments of other organisers are ignored. ``catalogues`` maps
    version → catalogue and must hold every version in use (``KeyError`` otherwise).
    """
    latest = latest_published(assessments, organiser_id)
    forms = []
    for form in SchoolForm:
        chosen = sorted((a for (_, f), a in latest.items() if f is form), key=lambda a: a.school_unit_code)
        if chosen:
            forms.append(_compile_form(form, chosen, catalogues))
    return Compilation(organiser_id=organiser_id, forms=tuple(forms))


def _compile_form(
    form: SchoolForm, chosen: list[SelfAssessment], catalogues: Mapping[str, Catalogue]
) -> FormCompilation:
    versions = sorted({a.catalogue_version for a in chosen}, key=version_key, reverse=True)
    used = [catalogues[v] for v in versions]  # newest first
    columns: list[str] = []
    titles: dict[str, str] = {}
    areas: dict[str, Area] = {}
    for cat in used:
        for ind in cat.indicators_for(form):
            if ind.id not in titles:
                columns.append(ind.id)
                titles[ind.id] = ind.title
                areas[ind.id] = ind.area

    rows = []
    todo_units: dict[str, list[str]] = {}
    todo_activities: dict[str, set[str]] = {}
    for a in chosen:
        cat = catalogues[a.catalogue_version]
        ratings = {i: a.rating_of(i) for i in cat.indicator_ids(form)}
        card = score_ratings(cat, form, ratings)
        assert a.published_at is not None
        rows.append(
            UnitRow(
                school_unit_code=a.school_unit_code,
                assessment_id=a.assessment_id,
                catalogue_version=a.catalogue_version,
                respondent_role=a.respondent_role,
                published_at=a.published_at,
                ratings={c: ratings.get(c) for c in columns},
                area_means={ar: card.areas[ar].mean_level for ar in AREA_ORDER},
                overall_mean=card.overall.mean_level,
            )
        )
        for o in order_activities(cat, form, ratings):
            if o.current_rating is Rating.PLANNED and o.plan_priority == 1:
                units = todo_units.setdefault(o.indicator.id, [])
                if a.school_unit_code not in units:
                    units.append(a.school_unit_code)
                todo_activities.setdefault(o.indicator.id, set()).add(o.activity.id)

    column_pos = {c: n for n, c in enumerate(columns)}
    todo = sorted(
        (
            TodoItem(
                indicator_id=i,
                title=titles[i],
                area=areas[i],
                school_unit_codes=tuple(sorted(units)),
                activity_ids=tuple(sorted(todo_activities[i])),
            )
            for i, units in todo_units.items()
        ),
        key=lambda t: (-t.unit_count, t.area.order, column_pos[t.indicator_id]),
    )
    area_means = {ar: _mean(r.area_means[ar] for r in rows) for ar in AREA_ORDER}
    return FormCompilation(
        school_form=form,
        catalogue_version=used[0].version,
        indicator_ids=tuple(columns),
        indicator_titles=tuple(titles[c] for c in columns),
        units=tuple(rows),
        area_means=area_means,
        overall_mean=_mean(r.overall_mean for r in rows),
        todo=tuple(todo),
    )


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


