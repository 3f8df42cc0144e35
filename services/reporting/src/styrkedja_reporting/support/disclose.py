"""Disclosure of the support figures: one decision per figure family over every level at once
(`access.decision.counts_decision`, the figures' `protect_tree`), so the summary, every table and
every format (JSON, CSV, xlsx — and the dashboard, which reads the summary) withhold the same cells
at every level.

Counts of students with support are sensitive: at a level the reader's role suppresses (above the
school unit for every role but the organiser admin; every level for politician and public), a count
of 1 to N-1 students is withheld, and so is enough else that it cannot be worked out from anything
the same reader sees: its siblings and its parent's total (the level above shows it), its children
(the level below), in this response or another. A parent is a cell of its own in the decision: where
no sibling can hide a small count (an only child, an area whose other child is small too), the
parent's count is withheld as well — in its own view too, since it is the same decision. One
*slice* per figure, each its own cell per unit (a count of students is the figure itself, so the
cell rests on that count):

- `("active", kind)`, `("active", None)` — students with the kind (any kind) active;
- `("outcome", kind, outcome)` — students with an evaluated intervention of that outcome;
- `("assessed",)` — students assessed (the shares' denominator); `("assessed_in", subject)` per subject;
- `("below", subject)` — students below the pass level without support (`None`: in any subject);
- `("open",)` — investigations open longer than N weeks (interventions, one per student);
- `("before_after", subject, school year, term, round, phase)` — supported students with a result.

A below-pass count is also withheld, whatever its size, where the unit's students with support in its subject are
(`below_forced`): the results show the students below the pass level, and they less those without support are the
supported ones (privacy round 29).

Figures tied to a cell are withheld with it: the interventions of a kind (active, per outcome) with
its students (their pattern of withheld cells is the students' — never a new equation to solve),
the students reaching the pass level before/after with the students, and every share with any of
its inputs. Not covered (documented): a student with support in several subjects, or in two units,
makes the cells overlap, which the additive model does not describe (such a parent is not the sum of
its children, so no equation is kept for it; the parent is never less than a child, so nothing
below N is revealed by it); plan coverage counts teaching assignments, not students, and is shown
exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.auth import Level

from ..access.complement import TOTAL, EveryCellWithheld, TreeDecision, tree_key, unit_of
from ..access.decision import COUNT_LEVELS, ComponentRows, counts_decision, undecided
from ..access.disclosure import SHARE_DECIMALS, DisclosureRules, Key, Reason, round_count, share_of_shown
from ..exports.table import Withheld
from . import read
from .rules import KINDS

#: One read per figure family of every unit of one level at once: family → read(session, level, subject, weeks, today).
Family = Callable[[Any, Any, str | None, int, date], Awaitable[dict[tuple[Any, ...], int]]]
FAMILIES: dict[str, Family] = {
    "active": lambda s, lv, subject, w, d: read.units_with_kind_active(s, lv, subject),
    "outcome": lambda s, lv, subject, w, d: read.units_with_outcome(s, lv, subject),
    "assessed": lambda s, lv, subject, w, d: read.units_assessed(s, lv, subject),
    "assessed_in": lambda s, lv, subject, w, d: read.units_assessed(s, lv, subject, by_subject=True),
    "below": lambda s, lv, subject, w, d: read.units_below_pass(s, lv, subject),
    "open": lambda s, lv, subject, w, d: read.units_open_investigations(s, lv, w, d, subject),
    "before_after": lambda s, lv, subject, w, d: read.units_before_after(s, lv, subject),
}


#: The families whose figures a reader reads per subject and for every subject at once (`subject_code` given or
#: not), each from a support table holding the subject: one decision over every subject's view, tied by the
#: equation `every subject = Σ each subject` where it holds (no student in two subjects' cells).
VIEWED_BY_SUBJECT: dict[str, str] = {"active": "support_students", "outcome": "support_students",
                                     "open": "support_students", "below": "support_below_pass",
                                     "before_after": "support_facts"}
#: A slice of a family without subject views (the students assessed: every subject's view overlaps the others').
NO_VIEW = object()


def family_rows(family: str, per_level: Mapping[str, Mapping[tuple[Any, ...], int]], view: Any = NO_VIEW,
                rows: ComponentRows | None = None) -> ComponentRows:
    """Pure: level → {(organiser, unit, key…): students} as the `read.units_*` reads give them, as
    the rows of one decision: one slice `(family, key…)` per figure, a cell per unit; with a subject
    `view` (None: every subject), the slice `(family, view, key…)`, added to `rows`."""
    rows = rows if rows is not None else ComponentRows()
    for level, counts in per_level.items():
        for (organiser, unit, *key), n in counts.items():
            if n > 0:
                rows.add((family, *key) if view is NO_VIEW else (family, view, *key), level, organiser, str(unit),
                         TOTAL, n)
    return rows


def view_links(rows: ComponentRows) -> list[tuple[Any, tuple[Any, ...]]]:
    """Pure: per unit and figure, the every-subject view's cell as the sum of the subjects' (`protect_tree` keeps
    the equation where it holds: no student counted in two subjects)."""
    wholes: dict[tuple[Any, ...], Any] = {}
    parts: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for slice_, level, organiser, unit in rows.counts:
        parts_of_slice: tuple[Any, ...] = tuple(slice_)  # type: ignore[arg-type]  # (family, view, key…)
        view, figure = parts_of_slice[1], (parts_of_slice[0], *parts_of_slice[2:])
        where = unit_of(level, organiser, unit)
        if view is None:
            wholes[(*figure, where)] = tree_key(slice_, where)
        else:
            parts[(*figure, where)].append(tree_key(slice_, where))
    return [(whole, tuple(parts[k])) for k, whole in sorted(wholes.items(), key=repr) if parts.get(k)]


def below_in_subject(every: Mapping[tuple[Any, ...], int], subject: str) -> dict[tuple[Any, ...], int]:
    """Pure: one level's students below the pass level without support as `read.units_below_pass` reads them for
    `subject`, from its read for every subject (rows per subject and in any subject): the subject's rows, and as
    "in any subject" of that view the same count — below in the subject is below in some subject of it. Read each
    subject's view from the table instead, the one decision over every view (round 24) read the table twice per
    subject and level: 136 statements, ~345 ms of a cold below-pass decision at 16 subjects (56 ms before that
    round), now 8 and ~75 ms (bench/results/support-decision24.json)."""
    mine = {key: n for key, n in every.items() if key[2] == subject}
    return mine | {(organiser, unit, None): n for (organiser, unit, _), n in mine.items()}


def below_forced(rows: ComponentRows, active: TreeDecision) -> frozenset[Key]:
    """Pure: the cells of the below-pass family withheld whatever their size — where the unit's students with support
    active in the cell's subject (or for every subject; in any subject, for the every-subject cell) are withheld.

    The students below the pass level are the results' (a distribution's F, or every grade below E, in a large cell,
    shown), and those without support less them are the students below the pass level *with* support: a count of
    supported students, which the `active` family withholds where small (privacy round 29: north's 25 students all
    below the pass level, 3 of them with special support — withheld, with south as its complement — and 22 without
    shown: 25 − 22 = 3). Where the active count is withheld, so is the below-pass count without support, with its own
    complements in this family's one decision."""
    hidden: set[tuple[Any, Any]] = set()
    for key in active.disclosure.withheld:
        cell: tuple[Any, ...] = key  # type: ignore[assignment]  # (("active", view, kind | None), unit, gender)
        figure, place, gender = cell
        if gender == TOTAL and isinstance(figure, tuple) and len(figure) == 3 and figure[2] is None:
            hidden.add((figure[1], place))
    if not hidden:
        return frozenset()
    forced: set[Key] = set()
    for slice_, level, organiser, unit_id in rows.counts:
        figure = tuple(slice_)  # type: ignore[arg-type]  # ("below", view, subject | None)
        view, subject = figure[1], figure[2]
        unit = unit_of(level, organiser, unit_id)
        named = subject if subject is not None else view
        # support in the subject, or for every subject (""); in any subject for the every-subject cell (None)
        views = (None,) if named is None else (named, "")
        if any((v, unit) in hidden for v in views):
            forced.add(tree_key(slice_, unit))
    return frozenset(forced)


async def subjects_of(session: AsyncSession, family: str) -> list[str]:
    """The subjects the family's table holds (`""`: an intervention for every subject, a view no reader names but
    part of the every-subject view's sum)."""
    table = VIEWED_BY_SUBJECT[family]
    found = await session.execute(text(f"SELECT DISTINCT subject_code FROM {table} ORDER BY 1"))
    return [code for (code,) in found if code is not None]


async def family_decision(session: AsyncSession, family: str, subject: str | None, weeks: int, today: date,
                          suppressed: frozenset[Level], rules: DisclosureRules,
                          version: Hashable | None = None) -> TreeDecision:
    """The one decision on a family's figures (every unit, every level — and, for a family viewed by subject,
    every subject's view and the every-subject one at once), kept per state version.

    Round 24a: a decision per subject asked for let the politician read a small count by the difference of views:
    north's 3 students with special support in mathematics withheld (with south's 12 as the complement), its 12 in
    Swedish and its 15 in any subject shown, each view decided alone — 15 − 12 = 3."""
    viewed = family in VIEWED_BY_SUBJECT

    async def rows_of(s: AsyncSession) -> ComponentRows:
        if family in ("assessed", "assessed_in"):  # one pass over the students for every level
            return family_rows(family, await read.units_assessed_every_level(s, subject,
                                                                             by_subject=family == "assessed_in"))
        if not viewed:
            return family_rows(family, {lv: await FAMILIES[family](s, lv, subject, weeks, today)
                                        for lv in COUNT_LEVELS})
        rows, subjects = ComponentRows(), await subjects_of(s, family)
        every = {lv: await FAMILIES[family](s, lv, None, weeks, today) for lv in COUNT_LEVELS}
        family_rows(family, every, None, rows)
        for view in subjects:
            if family == "below":  # a subject's view is in the every-subject one's rows
                family_rows(family, {lv: below_in_subject(every[lv], view) for lv in COUNT_LEVELS}, view, rows)
            else:
                family_rows(family, {lv: await FAMILIES[family](s, lv, view, weeks, today) for lv in COUNT_LEVELS},
                            view, rows)
        rows.links = view_links(rows)
        if family == "below":
            active = await family_decision(s, "active", None, weeks, today, suppressed, rules, version)
            rows.forced = below_forced(rows, active)
        return rows

    date_key = today if family == "open" else None  # only the open investigations change with the day
    asked = "every subject" if viewed else subject  # one decision for every subject's view
    return await counts_decision(session, ("support", family, asked, weeks if family == "open" else 0, date_key),
                                 rows_of, suppressed, rules, version)


@dataclass(frozen=True)
class Shown:
    """What one reader sees of one unit's support figures: one decision per family (their slices
    never meet); none: every figure exact. `subject`: the view read (None: every subject), for the
    families decided over every subject's view (`VIEWED_BY_SUBJECT`); NO_VIEW: slices as given."""

    unit: str
    level: str = ""
    decisions: tuple[TreeDecision, ...] = ()
    subject: Any = NO_VIEW

    def _in_view(self, slice_: Any) -> Any:
        if self.subject is NO_VIEW or not isinstance(slice_, tuple) or slice_[0] not in VIEWED_BY_SUBJECT:
            return slice_
        return (slice_[0], self.subject, *slice_[1:])

    def withheld(self, *slices: Hashable) -> bool:
        return any(d.withheld(self._in_view(s), self.level, self.unit) for d in self.decisions for s in slices)

    def value(self, value: object, *slices: Hashable) -> object:
        """The value, or `Withheld` (`..` in CSV/xlsx, null plus the reason in JSON) when any of
        the cells it rests on is withheld."""
        return Withheld() if self.withheld(*slices) else value


async def shown(session: AsyncSession, level: str, unit: str, families: tuple[str, ...], *, subject: str | None,
                weeks: int, today: date, suppressed: frozenset[Level], rules: DisclosureRules) -> Shown:
    """What a reader with these suppressed levels sees of the unit's figures of these families: exact
    at a level it sees exactly, else the one decision per family."""
    from ..results.disclose import state_version  # the state version lives with the results read path

    if Level[level.upper()] not in suppressed:
        return Shown(unit, level)
    if undecided(level, suppressed, COUNT_LEVELS):  # no decision covers the level (the groups): every figure withheld
        return Shown(unit, level, (EveryCellWithheld.make(rules),), subject)
    version = await state_version(session)  # one read for every family's lookup
    return Shown(unit, level, tuple([await family_decision(session, f, subject, weeks, today, suppressed, rules,
                                                           version) for f in families]), subject)


def summary_as_shown(body: dict[str, Any], shown: Shown, level: str, suppressed: frozenset[Level],
                     rules: DisclosureRules) -> dict[str, Any]:
    """Pure: the support summary `body` as the reader is shown it (`Shown`, the one decision per family): each figure
    resting on a withheld cell `null` and its path named in `withheld` with the reason; where the deployment rounds
    counts, every count of students at a suppressed level rounded, as the tables' (`withhold_small`) and the
    results' are (round 24a: the summary showed them exactly), and each share of the counts as shown."""
    withheld: dict[str, str] = {}
    base = rules.round_counts_to if Level[level.upper()] in suppressed else None
    for kind in KINDS:
        active = ("active", kind)
        _hide(body, withheld, f"active_interventions.{kind}", shown, active, base=base)
        _hide(body, withheld, f"students_with_kind_active.{kind}", shown, active, base=base)
        _hide(body, withheld, f"share_with_kind_active.{kind}", shown, active, ("assessed",))
        for outcome in read.OUTCOMES:
            cell = ("outcome", kind, outcome)
            _hide(body, withheld, f"evaluation_outcomes.{kind}.{outcome}", shown, cell, base=base)
            _hide(body, withheld, f"evaluation_outcome_students.{kind}.{outcome}", shown, cell, base=base)
    _hide(body, withheld, "students_assessed", shown, ("assessed",), base=base)
    _hide(body, withheld, "students_with_any_active", shown, ("active", None), base=base)
    _hide(body, withheld, "below_pass_without_support.students", shown, ("below", None), base=base)
    _hide(body, withheld, "open_investigations.count", shown, ("open",), base=base)
    for i, r in enumerate(body["results_before_after"]):
        phase = ("before_after", r["subject_code"], r["school_year"], r["term"], r["round"], r["phase"])
        for key in ("students", "reaching_pass", "share_reaching_pass"):
            _hide(body, withheld, f"results_before_after.{i}.{key}", shown, phase,
                  base=base if key != "share_reaching_pass" else None)
    if base is not None:  # each share of the counts as shown (`_share_of_shown`)
        for kind in KINDS:
            _share_of_shown(body, f"share_with_kind_active.{kind}", f"students_with_kind_active.{kind}",
                            "students_assessed")
        for i in range(len(body["results_before_after"])):
            _share_of_shown(body, f"results_before_after.{i}.share_reaching_pass",
                            f"results_before_after.{i}.reaching_pass", f"results_before_after.{i}.students")
    if withheld:
        body["withheld"] = withheld
    return body


def _hide(body: dict[str, Any], withheld: dict[str, str], path: str, shown: Shown, *slices: Any,
          base: int | None = None) -> None:
    """Withhold `body[…path]` (dotted) when any of the cells it rests on is withheld: `null`, and its
    path in the body's `withheld` with the reason; else a count rounded to a multiple of `base` (if any)."""
    hidden = shown.withheld(*slices)
    if not hidden and base is None:
        return
    *parents, last = path.split(".")
    holder: Any = body
    for key in parents:
        holder = holder[int(key)] if isinstance(holder, list) else holder[key]
    if not hidden:
        if isinstance(holder[last], int) and not isinstance(holder[last], bool):
            holder[last] = round_count(holder[last], base)
        return
    holder[last] = None
    withheld[path] = Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS.value


def _share_of_shown(body: dict[str, Any], share: str, part: str, whole: str) -> None:
    """Where counts are rounded: the share at `share` (dotted paths, as `_hide`'s) of the counts at `part` and `whole`
    as shown, null where either is withheld — a share of the exact counts beside the rounded ones gave them back
    (privacy round 30b; `guard.derive_from_shown` for the tables)."""
    def at(path: str) -> tuple[Any, str]:
        *parents, last = path.split(".")
        holder: Any = body
        for key in parents:
            holder = holder[int(key)] if isinstance(holder, list) else holder[key]
        return holder, last

    holder, last = at(share)
    if holder[last] is None:
        return
    (a, ka), (b, kb) = at(part), at(whole)
    shown = share_of_shown(a[ka], b[kb]) if isinstance(a[ka], int) and isinstance(b[kb], int) else None
    holder[last] = None if shown is None else round(float(shown), SHARE_DECIMALS)
