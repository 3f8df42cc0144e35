"""The generated action plan (handlingsplan) of a self-assessment.

**Which activities.** For every indicator rated below ``ACHIEVED`` (and not
``NOT_RELEVANT``), the catalogue's activities for lifting it from its current
level. Unrated indicators (an incomplete draft) give no activities.

**Prerequisites.** An activity's ``requires`` names activities that must come
before it. A required activity is

* *in the plan* when its indicator is rated exactly at that activity's level —
  the plan then orders it first;
* *done* when its indicator is rated above that level, or is ``NOT_RELEVANT``;
* *outstanding* otherwise (its indicator is rated lower, or not rated): it is
  not in this plan, so the item lists it in ``outstanding_prerequisites`` —
  something to finish first that a later plan will bring up.

**Order.** By plan priority, then by the "must come before" relation (an
activity is never placed before one it depends on), then by area (Ledning,
Infrastruktur, Kompetens, Användning), then by catalogue order. The *plan
priority* of an activity is its catalogue priority, raised to the plan
priority of any activity in the plan that depends on it (a prerequisite of a
priority-1 activity is itself priority 1), so ordering by priority never
contradicts a dependency. The order is a topological sort that always takes
the smallest (plan priority, area, indicator position, activity position)
among the activities whose prerequisites are placed: fully deterministic.

**Suggested term.** Counted in terms from ``start_term``: an activity with
plan priority *p* is suggested ``p - 1`` terms after the start (1 → the start
term, 2 → the next, 3 → the one after), but at least **one term after** every
prerequisite in the plan — a working network comes the term before the 1:1
roll-out that needs it, never the same term. Outstanding prerequisites do
not move the term (they are not scheduled by this plan).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from .catalogue import Activity, Catalogue, Indicator
from .enums import Area, OwnerRole, Rating, SchoolForm
from .ratings import SelfAssessment
from .terms import SchoolTerm

__all__ = ["ActionPlan", "PlanItem", "generate_action_plan", "order_activities", "OrderedActivity"]


class PlanItem(BaseModel):
    """One activity of the action plan, at ``position`` (1 = first)."""

    model_config = ConfigDict(frozen=True)

    position: int
    activity_id: str
    title: str
    description: str | None
    owner: OwnerRole
    priority: int
    plan_priority: int
    indicator_id: str
    indicator_title: str
    area: Area
    current_rating: Rating
    tags: tuple[str, ...]
    requires: tuple[str, ...]
    after: tuple[str, ...]
    outstanding_prerequisites: tuple[str, ...]
    suggested_term: SchoolTerm


class ActionPlan(BaseModel):
    """The ordered activities for one self-assessment (or a filtered view of them)."""

    model_config = ConfigDict(frozen=True)

    assessment_id: str
    school_unit_code: str
    school_form: SchoolForm
    catalogue_version: str
    start_term: SchoolTerm
    items: tuple[PlanItem, ...]
    filters: Mapping[str, str] = {}

    def filtered(self, *, tag: str | None = None, owner: OwnerRole | str | None = None) -> ActionPlan:
        """The items carrying ``tag`` (an indicator tag) and/or owned by ``owner``.

        Positions and suggested terms are those of the whole plan, so a
        filtered view never reorders or reschedules anything.
        """
        owner_role = OwnerRole(owner) if owner is not None else None
        items = tuple(
            i
            for i in self.items
            if (tag is None or tag in i.tags) and (owner_role is None or i.owner is owner_role)
        )
        filters = dict(self.filters)
        if tag is not None:
            filters["tag"] = tag
        if owner_role is not None:
            filters["owner"] = owner_role.value
        return self.model_copy(update={"items": items, "filters": filters})

    @property
    def activity_ids(self) -> tuple[str, ...]:
        return tuple(i.activity_id for i in self.items)

    def for_indicator(self, indicator_id: str) -> tuple[PlanItem, ...]:
        return tuple(i for i in self.items if i.indicator_id == indicator_id)


class OrderedActivity(BaseModel):
    """An activity as placed by :func:`order_activities` (before terms are given)."""

    model_config = ConfigDict(frozen=True)

    activity: Activity
    indicator: Indicator
    current_rating: Rating
    plan_priority: int
    after: tuple[str, ...]
    outstanding_prerequisites: tuple[str, ...]


def _prerequisite_state(catalogue: Catalogue, ratings: Mapping[str, Rating | None], activity_id: str) -> str:
    act = catalogue.activity(activity_id)
    rating = ratings.get(act.indicator_id)
    if rating is Rating.NOT_RELEVANT:
        return "done"
    if rating is None or rating.level is None:
        return "outstanding"
    own = act.from_level.level
    assert own is not None
    if rating.level > own:
        return "done"
    return "in_plan" if rating.level == own else "outstanding"


def order_activities(
    catalogue: Catalogue, school_form: SchoolForm | str, ratings: Mapping[str, Rating | None]
) -> tuple[OrderedActivity, ...]:
    """The plan's activities in plan order (see the module docstring for the rules)."""
    form = SchoolForm(school_form)
    chosen: list[tuple[Activity, Indicator, Rating, int]] = []
    for ind in catalogue.indicators_for(form):
        rating = ratings.get(ind.id)
        if rating is None or rating in (Rating.ACHIEVED, Rating.NOT_RELEVANT):
            continue
        for act in ind.activities_for(rating):
            chosen.append((act, ind, rating, len(chosen)))
    in_plan = {a.id for a, *_ in chosen}
    deps: dict[str, tuple[str, ...]] = {}
    outstanding: dict[str, tuple[str, ...]] = {}
    for act, *_ in chosen:
        deps[act.id] = tuple(r for r in act.requires if r in in_plan)
        outstanding[act.id] = tuple(
            r for r in act.requires if r not in in_plan and _prerequisite_state(catalogue, ratings, r) == "outstanding"
        )

    plan_priority = {a.id: a.priority for a, *_ in chosen}
    changed = True
    while changed:  # terminates: priorities only decrease, bounded below by 1
        changed = False
        for act, *_ in chosen:
            for req in deps[act.id]:
                if plan_priority[act.id] < plan_priority[req]:
                    plan_priority[req] = plan_priority[act.id]
                    changed = True

    key = {
        act.id: (plan_priority[act.id], ind.area.order, catalogue.position(ind.id), n)
        for act, ind, _, n in chosen
    }
    waiting = {a.id: len(deps[a.id]) for a, *_ in chosen}
    dependents: dict[str, list[str]] = {a.id: [] for a, *_ in chosen}
    for act, *_ in chosen:
        for req in deps[act.id]:
            dependents[req].append(act.id)
    ready = [(key[a], a) for a, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    by_id = {a.id: (a, ind, rating) for a, ind, rating, _ in chosen}
    ordered: list[OrderedActivity] = []
    while ready:
        _, aid = heapq.heappop(ready)
        act, ind, rating = by_id[aid]
        ordered.append(
            OrderedActivity(
                activity=act,
                indicator=ind,
                current_rating=rating,
                plan_priority=plan_priority[aid],
                after=deps[aid],
                outstanding_prerequisites=outstanding[aid],
            )
        )
        for dep in dependents[aid]:
            waiting[dep] -= 1
            if waiting[dep] == 0:
                heapq.heappush(ready, (key[dep], dep))
    if len(ordered) != len(chosen):  # only possible with a cyclic catalogue, which the loader rejects
        raise ValueError("the activities of the plan have a dependency cycle")
    return tuple(ordered)


def generate_action_plan(
    catalogue: Catalogue, assessment: SelfAssessment, start_term: SchoolTerm | str
) -> ActionPlan:
    """The action plan of ``assessment`` with suggested terms counted from ``start_term``.

    Deterministic: the same catalogue, ratings and start term give the same plan.
    """
    if assessment.catalogue_version != catalogue.version:
        raise ValueError(
            f"self-assessment {assessment.assessment_id} is for catalogue {assessment.catalogue_version}, "
            f"not {catalogue.version}"
        )
    start = SchoolTerm.parse(start_term) if isinstance(start_term, str) else start_term
    ratings = {k: e.rating for k, e in assessment.ratings.items()}
    offsets: dict[str, int] = {}
    items = []
    for position, o in enumerate(order_activities(catalogue, assessment.school_form, ratings), start=1):
        offset = max([o.plan_priority - 1, *(offsets[r] + 1 for r in o.after)])
        offsets[o.activity.id] = offset
        items.append(
            PlanItem(
                position=position,
                activity_id=o.activity.id,
                title=o.activity.title,
                description=o.activity.description,
                owner=o.activity.owner,
                priority=o.activity.priority,
                plan_priority=o.plan_priority,
                indicator_id=o.indicator.id,
                indicator_title=o.indicator.title,
                area=o.indicator.area,
                current_rating=o.current_rating,
                tags=o.indicator.tags,
                requires=o.activity.requires,
                after=o.after,
                outstanding_prerequisites=o.outstanding_prerequisites,
                suggested_term=start.shift(offset),
            )
        )
    return ActionPlan(
        assessment_id=assessment.assessment_id,
        school_unit_code=assessment.school_unit_code,
        school_form=assessment.school_form,
        catalogue_version=catalogue.version,
        start_term=start,
        items=tuple(items),
    )
