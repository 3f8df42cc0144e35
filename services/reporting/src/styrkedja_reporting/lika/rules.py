"""The organiser's LIKA compilation (sammanställning), pure: no I/O.

Reporting keeps its own small rules rather than importing the LIKA service's domain (services
never import each other). What they keep from it:

* only **published** self-assessments count (the LIKA service never sends drafts or private ones);
* the **latest** self-assessment of a school unit and school form is the newest by
  ``published_at``, then ``self_assessment_id`` — whoever the rater was;
* the rating scale's level: NOT_PLANNED 0, PLANNED 1, STARTED 2, ALMOST_THERE 3, ACHIEVED 4;
  NOT_RELEVANT has no level and is left out of every mean;
* means across school units are means of the unit means (every unit weighs the same);
* of an action plan only its newest revision counts.

Ownership: LIKA data is keyed by organiser + school unit. Every event is kept; whose the unit is
decides what is read, by the directory as it stands at the read (`visible_to`), never at the apply
(which depended on the order the LIKA and directory records came in: the live consumer and the
rebuild decided otherwise). An organiser's self-assessment is shown to it while the directory places
the unit under it, or does not know the unit (*unplaced*: no area); not while the directory places
the unit under another organiser only.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

LEVELS: Mapping[str, int] = {"NOT_PLANNED": 0, "PLANNED": 1, "STARTED": 2, "ALMOST_THERE": 3, "ACHIEVED": 4}
AREA_ORDER = ("ledning", "infrastruktur", "kompetens", "anvandning")
STATUSES = ("planned", "in_progress", "done", "dropped")
SWEDEN = ZoneInfo("Europe/Stockholm")


def visible_to(organiser_id: str, owners: set[str]) -> bool:
    """Whether a row of `organiser_id` for a school unit owned by `owners` (organiser ids the directory places the
    unit under, empty when it does not know the unit) is shown to its organiser: unless the directory now places the
    unit under other organisers only (the row is kept all the same)."""
    return not owners or organiser_id in owners


def school_year_of(moment: datetime) -> str:
    """The Swedish school year (läsår, 1 July – 30 June) a moment falls in, e.g. ``2026/27``."""
    day = moment.astimezone(SWEDEN).date() if moment.tzinfo else moment.date()
    first = day.year if day.month >= 7 else day.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def school_year_about(assessment: SelfAssessment) -> str:
    """The school year a self-assessment is ABOUT: the one of the day it was made (`assessed_on`), not of the day it
    was published (assessed 30 June, published 1 July: the year ending that June); an event without the day (made
    before it was sent): the day of `published_at` in Sweden."""
    if assessment.assessed_on is not None:
        first = assessment.assessed_on.year if assessment.assessed_on.month >= 7 else assessment.assessed_on.year - 1
        return f"{first}/{(first + 1) % 100:02d}"
    return school_year_of(assessment.published_at)


def previous_school_year(school_year: str) -> str:
    first = int(school_year[:4]) - 1
    return f"{first}/{(first + 1) % 100:02d}"


@dataclass(frozen=True)
class SelfAssessment:
    self_assessment_id: str
    organiser_id: str
    school_unit_code: str
    school_form: str
    respondent_role: str
    catalogue_version: str
    published_at: datetime
    ratings: Sequence[Mapping[Any, Any]]  # indicator_id, area, rating, comment
    assessed_on: date | None = None  # the day it was made (None: not sent, see `school_year_about`)


@dataclass(frozen=True)
class Activity:
    activity_id: str
    indicator_id: str
    area: str
    position: int
    title: str
    status: str
    priority: int
    owner: str | None
    due_date: date | None
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Place:
    """Where the directory puts a school unit of the organiser (None: unplaced)."""

    area_id: str | None = None
    name: str | None = None


def latest(assessments: Iterable[SelfAssessment]) -> list[SelfAssessment]:
    """The newest published self-assessment per (organiser, school unit, school form)."""
    newest: dict[tuple[str, str, str], SelfAssessment] = {}
    for a in assessments:
        key = (a.organiser_id, a.school_unit_code, a.school_form)
        held = newest.get(key)
        if held is None or (a.published_at, a.self_assessment_id) > (held.published_at, held.self_assessment_id):
            newest[key] = a
    return [newest[k] for k in sorted(newest)]


@dataclass(frozen=True)
class Filters:
    area_id: str | None = None  # verksamhetsområde in the directory
    school_form: str | None = None
    indicator_id: str | None = None
    lika_area: str | None = None  # Ledning, Infrastruktur, Kompetens, Användning
    school_unit_code: str | None = None

    def keeps_unit(self, a: SelfAssessment, place: Place) -> bool:
        return ((self.area_id is None or place.area_id == self.area_id)
                and (self.school_form is None or a.school_form == self.school_form)
                and (self.school_unit_code is None or a.school_unit_code == self.school_unit_code))

    def keeps_indicator(self, indicator_id: str, lika_area: str) -> bool:
        return ((self.indicator_id is None or indicator_id == self.indicator_id)
                and (self.lika_area is None or lika_area == self.lika_area))


@dataclass(frozen=True)
class Cell:
    """One school unit × indicator of the compilation."""

    organiser_id: str
    area_id: str | None
    school_unit_code: str
    school_unit_name: str | None
    school_form: str
    self_assessment_id: str
    respondent_role: str
    catalogue_version: str
    published_on: date
    lika_area: str
    indicator_id: str
    rating: str
    level: int | None
    comment: str | None
    plan_revision: int | None
    activities: int
    status_counts: Mapping[str, int] = field(default_factory=dict)
    plan_status: str | None = None
    top_priority: int | None = None
    next_due: date | None = None


def plan_status(statuses: Sequence[str]) -> str | None:
    """One word for an indicator's activities: any in progress → in_progress; else any planned →
    planned; else any done → done; else dropped; None when it has no activities."""
    for status in ("in_progress", "planned", "done", "dropped"):
        if status in statuses:
            return status
    return None


def _area_rank(area: str) -> int:
    return AREA_ORDER.index(area) if area in AREA_ORDER else len(AREA_ORDER)


def compile_cells(assessments: Iterable[SelfAssessment], plans: Mapping[str, tuple[int, Sequence[Activity]]],
                  places: Mapping[str, Place], filters: Filters = Filters()) -> list[Cell]:
    """School units × indicators of the latest published self-assessments, with the status of
    each indicator's activities in the newest plan revision. Ordered by area (unplaced last),
    school unit, school form, LIKA area, indicator."""
    cells = []
    for a in latest(assessments):
        place = places.get(a.school_unit_code, Place())
        if not filters.keeps_unit(a, place):
            continue
        revision, activities = plans.get(a.self_assessment_id, (None, ()))
        by_indicator: dict[str, list[Activity]] = {}
        for activity in activities:
            by_indicator.setdefault(activity.indicator_id, []).append(activity)
        for r in a.ratings:
            if not filters.keeps_indicator(r["indicator_id"], r["area"]):
                continue
            mine = by_indicator.get(r["indicator_id"], [])
            open_ = [x for x in mine if x.status in ("planned", "in_progress")]
            dues = [x.due_date for x in open_ if x.due_date is not None]
            cells.append(Cell(
                organiser_id=a.organiser_id, area_id=place.area_id, school_unit_code=a.school_unit_code,
                school_unit_name=place.name, school_form=a.school_form, self_assessment_id=a.self_assessment_id,
                respondent_role=a.respondent_role, catalogue_version=a.catalogue_version,
                published_on=a.published_at.astimezone(SWEDEN).date(), lika_area=r["area"],
                indicator_id=r["indicator_id"], rating=r["rating"], level=LEVELS.get(r["rating"]),
                comment=r.get("comment"), plan_revision=revision, activities=len(mine),
                status_counts={s: sum(1 for x in mine if x.status == s) for s in STATUSES},
                plan_status=plan_status([x.status for x in mine]),
                top_priority=min((x.priority for x in open_), default=None),
                next_due=min(dues, default=None)))
    cells.sort(key=lambda c: (c.area_id is None, c.area_id or "", c.school_unit_code, c.school_form,
                              _area_rank(c.lika_area), c.indicator_id))
    return cells


@dataclass(frozen=True)
class TodoRow:
    area_id: str | None
    school_unit_code: str
    school_unit_name: str | None
    school_form: str
    self_assessment_id: str
    rating: str | None
    activity: Activity


def folded(name: str) -> str:
    """A name as a filter compares it: the same whatever its case and however its letters were typed ("Å" as one
    character or "A" and a combining ring): Unicode's canonical caseless match, NFC(casefold(NFC(name)))."""
    if name.isascii():
        return name.casefold()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def activities(assessments: Iterable[SelfAssessment], plans: Mapping[str, tuple[int, Sequence[Activity]]],
               places: Mapping[str, Place], filters: Filters = Filters(), status: str | None = None,
               priority: int | None = None, owner: str | None = None, tag: str | None = None) -> list[TodoRow]:
    """The activities of the latest self-assessments' plans, filtered — ``status=planned,
    priority=1`` is the organiser's to-do list. Ordered by priority, due date (none last), area,
    school unit and the plan's own order."""
    rows = []
    for a in latest(assessments):
        place = places.get(a.school_unit_code, Place())
        if not filters.keeps_unit(a, place):
            continue
        ratings = {r["indicator_id"]: r["rating"] for r in a.ratings}
        for x in plans.get(a.self_assessment_id, (0, ()))[1]:
            if not filters.keeps_indicator(x.indicator_id, x.area):
                continue
            if ((status is not None and x.status != status) or (priority is not None and x.priority != priority)
                    or (owner is not None and folded(x.owner or "") != folded(owner))
                    or (tag is not None and folded(tag) not in {folded(t) for t in x.tags})):
                continue
            rows.append(TodoRow(place.area_id, a.school_unit_code, place.name, a.school_form,
                                a.self_assessment_id, ratings.get(x.indicator_id), x))
    rows.sort(key=lambda r: (r.activity.priority, r.activity.due_date is None, r.activity.due_date or date.max,
                             r.area_id is None, r.area_id or "", r.school_unit_code, r.school_form,
                             r.activity.position))
    return rows


@dataclass(frozen=True)
class YearRow:
    """One indicator (or, with ``indicator_id`` None, one LIKA area) of one school form, this
    school year against an earlier one."""

    school_form: str
    lika_area: str
    indicator_id: str | None
    units_now: int
    mean_now: float | None
    units_before: int
    mean_before: float | None
    change: float | None
    improved: int
    unchanged: int
    declined: int


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def over_time(assessments: Iterable[SelfAssessment], places: Mapping[str, Place], school_year: str,
              before: str, filters: Filters = Filters()) -> list[YearRow]:
    """The whole organiser (or one area, school form, indicator) in `school_year` against `before`:
    per indicator and per LIKA area, the number of school units rated, the mean level (for an area:
    the mean of the units' area means), its change, and how many units rated in both years moved
    up, stayed or moved down. Each unit counts with its latest self-assessment of each year."""
    years: dict[str, list[SelfAssessment]] = {school_year: [], before: []}
    for a in assessments:
        year = school_year_about(a)
        if year in years and filters.keeps_unit(a, places.get(a.school_unit_code, Place())):
            years[year].append(a)
    # (form, lika area, indicator or None) → school unit → level
    levels: dict[str, dict[tuple[str, str, str | None], dict[str, float]]] = {}
    for year, items in years.items():
        cells: dict[tuple[str, str, str | None], dict[str, float]] = {}
        per_area: dict[tuple[str, str, str], list[int]] = {}
        for a in latest(items):
            for r in a.ratings:
                if not filters.keeps_indicator(r["indicator_id"], r["area"]):
                    continue
                level = LEVELS.get(r["rating"])
                if level is None:
                    continue
                cells.setdefault((a.school_form, r["area"], r["indicator_id"]), {})[a.school_unit_code] = level
                per_area.setdefault((a.school_form, r["area"], a.school_unit_code), []).append(level)
        for (form, area, unit), values in per_area.items():
            cells.setdefault((form, area, None), {})[unit] = sum(values) / len(values)
        levels[year] = cells
    rows = []
    for key in sorted(set(levels[school_year]) | set(levels[before]),
                      key=lambda k: (k[0], _area_rank(k[1]), k[2] is not None, k[2] or "")):
        now, then = levels[school_year].get(key, {}), levels[before].get(key, {})
        both = set(now) & set(then)
        mean_now, mean_before = _mean(now.values()), _mean(then.values())
        rows.append(YearRow(
            school_form=key[0], lika_area=key[1], indicator_id=key[2], units_now=len(now),
            mean_now=_round(mean_now), units_before=len(then), mean_before=_round(mean_before),
            change=_round(mean_now - mean_before) if mean_now is not None and mean_before is not None else None,
            improved=sum(1 for u in both if now[u] > then[u]), unchanged=sum(1 for u in both if now[u] == then[u]),
            declined=sum(1 for u in both if now[u] < then[u])))
    return rows
