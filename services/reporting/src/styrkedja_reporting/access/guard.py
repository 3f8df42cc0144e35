"""The checks every read route makes, in one place: the reader (token + directory), the node asked
for (`require_read`), and the audit row of a student-level read (in the read's transaction)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import cast

from fastapi import Request
from sqlalchemy import literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import (
    GRANTS,
    AccessDenied,
    Level,
    Node,
    Principal,
    Role,
    may_read,
    readable_levels,
    require_read,
)
from styrkedja_kit.auth.audit import record_read
from styrkedja_kit.auth.policy import Reach
from styrkedja_kit.sets import any_of

from ..exports.table import Column, ColumnType, Difference, Ratio, Row, Table, Withheld
from ..figures.facts import Result
from ..figures.linked import Place, term_grades_of
from ..figures.merit import final_grades, merit_contribution
from ..figures.read import linked_facts_of_group
from ..persistence import metadata
from ..results.read import CURRENT_SCOPE, Scope
from .answers import mark_audited
from .disclosure import SHARE_DECIMALS, DisclosureRules, round_count, share_of_shown, suppressed_levels
from .scope import node_of, reader_of
from .tables import audit_reads


def _with_own_organiser(reader: Principal, node: Node) -> Node:
    """An area named without its organiser (area ids are the organiser's own): the reader's organiser
    whose area it may read, if any (the reads are narrowed to the reader's organisers anyway)."""
    if node.level is not Level.AREA or node.organiser_id is not None:
        return node
    for organiser in sorted(reader.organisers):
        candidate = replace(node, organiser_id=organiser)
        if may_read(reader, candidate):
            return candidate
    return node


def named_by(reader: Principal, organiser_id: str | None, unit_id: str | None,
             school_unit_code: str | None = None) -> str:
    """The query parameter that steered a refused read out of the reader's scope, for the problem to name: the
    organiser when it is none of the reader's, else the unit asked for (a refusal naming `scope` left a client
    to guess which of its parameters to change)."""
    if organiser_id is not None and organiser_id not in reader.organisers:
        return "organiser_id"
    if unit_id is not None:
        return "unit_id"
    return "school_unit_code" if school_unit_code is not None else "level"


def what_of(request: Request) -> str:
    query = request.url.query
    return f"{request.method} {request.url.path}" + (f"?{query}" if query else "")


async def audit(session: AsyncSession, request: Request, principal: Principal, node: Node) -> None:
    """One audit row for a read of student-level data at `node` (the caller commits with the read);
    the answer is never kept (`answers.mark_audited`). A read naming no organiser (`level=student` without
    `organiser_id`: the rows of every organiser the reader reaches) is recorded once for each of the reader's
    organisers: kept with no organiser, it was in no organiser admin's trail (round 26c)."""
    mark_audited(request)
    organisers: list[str | None] = [node.organiser_id]
    if node.organiser_id is None and principal.organisers:
        organisers = [*sorted(principal.organisers)]
    for organiser in organisers:
        await record_read(session, audit_reads, principal, replace(node, organiser_id=organiser), what_of(request))


def disclosure_rules_of(request: Request) -> DisclosureRules:
    """The deployment's disclosure rules (minimum group, rounding, the optional rules) for a read of `request`."""
    settings = runtime_of(request).settings
    return settings.disclosure_rules() if hasattr(settings, "disclosure_rules") else DisclosureRules()


async def check_read(session: AsyncSession, request: Request, principal: Principal, level: Level,
                     organiser_id: str | None, unit_id: str | None = None, *, school_unit_code: str | None = None,
                     group_id: str | None = None, field: str = "scope") -> tuple[Principal, Node]:
    """The reader completed from the directory and the node it asks for, after `require_read`;
    a student-level read is audited."""
    reader = await reader_of(session, principal)
    node = await node_of(session, level, organiser_id, unit_id, school_unit_code=school_unit_code,
                         group_id=group_id)
    require_read(reader, node, field=field)
    if level is Level.STUDENT:
        await audit(session, request, reader, node)
    return reader, node


async def read_scope(session: AsyncSession, request: Request, principal: Principal, level: Level,
                     organiser_id: str | None, unit_id: str | None = None, *, school_unit_code: str | None = None,
                     group_id: str | None = None) -> tuple[Scope, Node]:
    """The `Scope` of a read through the one read path, after the checks: a named place must be
    readable (`require_read`); without one, the level must be one the reader reads at all and the
    organiser one of its own (the read path then drops the rows out of its reach). A student-level
    read is audited."""
    reader = await reader_of(session, principal)
    if level is Level.STUDENT:
        unit_id = None  # a student id names no place: the read path keeps the rows of the reader's groups/units
    if level is Level.NATION and organiser_id is not None:
        # the nation narrowed to one organiser is that organiser's students: read and judged as its organiser
        # level is (a public reader got a small organiser's share of the nation exactly, by the nation's decision)
        level, unit_id = Level.ORGANISER, None
    node = await node_of(session, level, organiser_id, unit_id, school_unit_code=school_unit_code,
                         group_id=group_id)
    if unit_id is not None or school_unit_code is not None or level is Level.NATION or (
            level is Level.ORGANISER and organiser_id is not None):
        node = _with_own_organiser(reader, node)
        require_read(reader, node, field=named_by(reader, organiser_id, unit_id, school_unit_code))
    else:
        if level not in readable_levels(reader):
            raise AccessDenied("level", "read_scope", f"this token may not read at {level.name.lower()} level")
        if organiser_id is not None and not may_read(reader, Node(level, organiser_id=organiser_id)) \
                and organiser_id not in reader.organisers:
            raise AccessDenied("organiser_id", "read_scope", "this token may not read this organiser")
    if level is Level.STUDENT:
        await audit(session, request, reader, node)
    rules = disclosure_rules_of(request)
    return Scope(principal=reader, suppressed=await suppressed_at(session, principal, reader, level),
                 rules=rules), node


#: The tables the nation's figures are summed from (results, figures, support, plans), each with the organiser of
#: every row: where one holds a row of an organiser not the reader's, the nation holds students it may not read.
NATION_SOURCES = ("assessment_aggregates", "forecast_aggregates", "figure_pass", "figure_merit", "figure_forecasts",
                  "figure_students", "support_aggregates", "support_below_pass", "support_students", "plan_aggregates")


async def others_in_nation(session: AsyncSession, reader: Principal) -> bool:
    """Whether the nation's figures rest on a student of an organiser other than the reader's."""
    mine = sorted(reader.organisers)
    probes = []
    for name in NATION_SOURCES:  # one statement: a row of another organiser in any source
        table = metadata.tables[name]
        probe = select(literal(1)).select_from(table)
        probes.append((probe.where(~any_of(table.c.organiser_id, mine)) if mine else probe).limit(1).subquery().select())
    return (await session.execute(union_all(*probes).limit(1))).first() is not None


async def suppressed_at(session: AsyncSession, principal: Principal, reader: Principal,
                        level: Level) -> frozenset[Level]:
    """The levels suppressed for a read at `level`: the reader's (`suppressed_levels`), but at the nation the
    public's (every level), unless every student the nation holds is of the reader's organisers. The nation (and the
    organisers one level down from it) is every organiser's students: the organiser admin, exact everywhere, read
    the nation's total (less its own: the others') and each other organiser's figures exactly, a small one's too,
    where the public reads them withheld (round 24a)."""
    levels = suppressed_levels(principal)
    if level is not Level.NATION or Level.NATION in levels or not await others_in_nation(session, reader):
        return levels
    return frozenset(Level)


def _own_share_of_nation(request: Request, principal: Principal, reader: Principal, organiser_id: str) -> Scope:
    """The nation narrowed to one organiser (`level=nation&organiser_id=…`): that organiser's students, its share
    of every nation cell. Only a reader who reads that organiser exactly reads it here (rows narrowed to it); any
    other is sent to the organiser level, where the organiser's own cells are judged (the public read a small
    organiser's share exactly, judged by the nation's decision, whose cells are large)."""
    if not may_read(reader, Node(Level.ORGANISER, organiser_id=organiser_id)) \
            or Level.ORGANISER in suppressed_levels(principal):
        raise AccessDenied("organiser_id", "read_scope", "the nation narrowed to one organiser is that organiser's "
                                                         "figures: read them at organiser level")
    rules = disclosure_rules_of(request)
    scope = Scope(organiser_ids=frozenset({organiser_id}), principal=reader,
                  suppressed=suppressed_levels(principal), rules=rules)
    CURRENT_SCOPE.set(scope)
    return scope


async def strict_scope(session: AsyncSession, request: Request, principal: Principal, level: Level,
                       organiser_id: str | None, unit_id: str | None) -> Scope:
    """For reads that do not narrow their rows by the reader's reach (the figures): a named unit must be
    readable; without one, the reader must read the whole organiser (or the nation) at that level —
    a principal, teacher or area manager names the unit."""
    reader = await reader_of(session, principal)
    if level is Level.NATION and organiser_id is not None:
        return _own_share_of_nation(request, principal, reader, organiser_id)
    if unit_id is not None or level is Level.NATION or (level is Level.ORGANISER and organiser_id is not None):
        node = _with_own_organiser(reader, await node_of(session, level, organiser_id, unit_id))
        require_read(reader, node, field=named_by(reader, organiser_id, unit_id))
    else:
        wanted = [organiser_id] if organiser_id is not None else sorted(reader.organisers)
        if not wanted or not all(may_read(reader, Node(level, organiser_id=o)) for o in wanted):
            raise AccessDenied("unit_id", "read_scope", "name a unit (and its organiser) this token may read")
    rules = disclosure_rules_of(request)
    # below the nation, the reads are narrowed to the reader's organisers (the public reads any)
    narrowed = None if level is Level.NATION or Role.PUBLIC in reader.roles else reader.organisers
    suppressed = await suppressed_at(session, principal, reader, level)
    scope = Scope(organiser_ids=narrowed, principal=reader, suppressed=suppressed, rules=rules)
    CURRENT_SCOPE.set(scope)
    return scope


def students_withheld(scope: Scope | None) -> bool:
    """Whether a student-level figure is withheld for this reader: one student each, so wherever its class suppresses
    the student level and the minimum group is above one. A reader reads student-level data only through a role that
    may (a principal, teacher, organiser admin); beside a politician or public role the token is suppressed as that
    role is (`disclosure.suppressed_levels`). The results withheld such a token's student cells, while the drill-down
    into a group's students listed each result and the support list named the students below the pass level
    (round 26c): every student-level door asks this."""
    return scope is not None and Level.STUDENT in scope.suppressed and scope.rules.min_students > 1


def reads_every_place(reader: Principal, places: Iterable[tuple[str, str, str]]) -> bool:
    """Whether the reader reads the student level at each (organiser, school unit code, group) of `places`: where a
    student-level figure rests on results of several groups (a merit value, all pass, eligibility: every subject's
    newest term grade), it is shown only to a reader of them all. Shown to the teacher of one of them, it gave a grade
    away that the same teacher's results refuse (privacy round 29: a merit value of 35 beside the teacher's own C, 15
    points, was the student's A in Swedish in another teacher's group)."""
    return all(may_read(reader, Node(Level.STUDENT, organiser_id=organiser, school_unit_code=code, group_id=group))
               for organiser, code, group in places)


async def reads_group_alone(session: AsyncSession, reader: Principal, organiser_id: str | None,
                            group_unit_id: str) -> bool:
    """Whether the reader reads this group through a role of groups alone (a teacher): not through a role that reads
    its school unit or wider (a principal, area manager, organiser admin). A group's figure that rests on grades set
    in other groups too (a merit value, grades, all pass, eligibility: its students' every newest term grade) is then
    shown only where `reads_every_place` holds for those groups: a teacher's group of few students less the grades
    the teacher set gave the other teachers' grades back (privacy round 30, round 29's rule at the group level)."""
    node = await node_of(session, Level.GROUP, organiser_id, group_unit_id)
    wider = replace(reader, roles=frozenset(r for r in reader.roles if GRANTS[r].reads is not Reach.GROUPS))
    return may_read(reader, node) and not may_read(wider, node)


def merit_set_elsewhere(reader: Principal, group: str, by_student: Mapping[str, Sequence[Result]],
                        place: Mapping[str, Place]) -> set[tuple[str, int]]:
    """Pure: the (group, year) merit cells of `group` resting on a grade set in a group the reader does not read
    (`reads_every_place`), from its students' term grades of the term and where each was set (`term_grades_of`). A
    cell's students are those whose newest term grade of the term is set in the group (`merit_contribution`); its
    figures rest on every subject's grade of theirs, and a teacher reading a group of few students less the grades it
    set itself learnt the grades of other teachers' groups, as the drill-down's per student did (round 29). Every
    student of the group is judged, of any gender: a cell of one gender may be withheld for a grade of the other's
    (the cheap, safe side)."""
    found: set[tuple[str, int]] = set()
    for results in by_student.values():
        cells = [c for c in merit_contribution(results) if c.unit == ("group", group)]
        if cells and not reads_every_place(reader, (place[r.result_id] for r in final_grades(results).values())):
            found |= {(group, c.year) for c in cells}
    return found


async def merit_withheld_of_groups(session: AsyncSession, reader: Principal | None, organiser_id: str | None,
                                   groups: Iterable[str], period: tuple[str, str], year: int | None
                                   ) -> set[tuple[str, int]]:
    """The group-level merit cells withheld from the reader by `merit_set_elsewhere`, among `groups` (group unit ids)
    of the term `period`: judged only where the reader reads the group through a role of groups alone
    (`reads_group_alone`: a teacher) — a reader of its school unit or wider reads every grade the cell rests on."""
    if reader is None:
        return set()
    school_year, term = period
    found: set[tuple[str, int]] = set()
    for group in sorted(groups):
        if await reads_group_alone(session, reader, organiser_id, group):
            _, result_rows = await linked_facts_of_group(session, group, school_year, term, None, year)
            found |= merit_set_elsewhere(reader, group, *term_grades_of(result_rows))
    return found


def _each_row(table: Table, change: Callable[[Row], Row]) -> Table:
    """`table` with `change` applied to each row as it is read, whether its rows come sync or async."""
    rows = table.rows
    if isinstance(rows, AsyncIterable):
        async def async_rows() -> AsyncIterator[Row]:
            async for row in rows:
                yield change(row)
        return replace(table, rows=async_rows())
    return replace(table, rows=(change(row) for row in rows))


def withhold_all_but(table: Table, keys: frozenset[str]) -> Table:
    """Every value of a student-level table withheld but its `keys` columns (group, pseudonymous id, subject, year):
    the student's row is shown as the results show a withheld cell, its figures `..`/null."""
    hidden = [i for i, c in enumerate(table.columns) if c.key not in keys]

    def hide(row: Row) -> Row:
        out = list(row)
        for i in hidden:
            out[i] = Withheld()
        return tuple(out)

    return _each_row(table, hide)


#: Columns of a figure table that give the number of students a row's figures rest on.
STUDENT_COUNT_COLUMNS = ("assessed", "previous_assessed", "girls_assessed", "boys_assessed", "with_result",
                         "graded_students", "merit_students", "roster", "roster_size", "held", "students",
                         "students_assessed", "students_better", "students_unchanged", "students_worse")
KEY_COLUMNS = frozenset({"level", "unit_id", "subject_code", "year", "period", "parent_level", "parent_id",
                         "previous_period", "kind", "group", "school_unit_code", "group_id", "band", "newest"})


#: Integer columns of a figure or support table that count no students (an age, a number of weeks, a round, a
#: grade, teaching assignments): never rounded by `round_counts_to`.
NOT_STUDENT_COUNTS = frozenset({"age_days", "weeks", "round", "grades", "assignments", "with_published_plan"})


def withhold_small(table: Table, level: str, scope: Scope) -> Table:
    """Primary suppression of a figure table: at a suppressed level (the row's `level` column, else the
    asked level), a row any of whose student counts is below N has every figure withheld (`..`/null).
    Complementary suppression among a figure table's rows is not decided here (see README).

    Where the deployment rounds counts (`DisclosureRules.round_counts_to`), every count a row shows at a
    suppressed level is rounded here too, as the results endpoint rounds its own: before round 24a only it did,
    and the trend, coverage, drill-down or a support table showed the same students exactly. And every figure
    derived from the counts is computed again from them as shown (`derive_from_shown`): a share of the exact counts
    beside the rounded ones gave them back (privacy round 30: 20 assessed, 15 reaching, 0.7273 — only 16/22)."""
    names = [c.key for c in table.columns]
    counts = [i for i, n in enumerate(names) if n in STUDENT_COUNT_COLUMNS]
    figures = [i for i, n in enumerate(names) if n not in KEY_COLUMNS]
    base = scope.rules.round_counts_to
    rounded = [i for i, c in enumerate(table.columns) if c.type is ColumnType.integer and c.key not in KEY_COLUMNS
               and c.key not in NOT_STUDENT_COUNTS] if base is not None else []
    level_at = names.index("level") if "level" in names else None
    n = scope.rules.min_students
    levels = {lv.name.lower() for lv in scope.suppressed}
    if not levels or not (counts or rounded):
        return table

    def small(row: Row) -> bool:
        return any(isinstance(row[i], int) and 0 < row[i] < n for i in counts)

    def hide(row: Row) -> Row:
        if (row[level_at] if level_at is not None else level) not in levels:
            return row
        if small(row):
            out = list(row)
            for i in figures:
                out[i] = Withheld()
            return tuple(out)
        if not rounded:
            return row
        out = list(row)
        for i in rounded:
            if isinstance(out[i], int) and not isinstance(out[i], bool):
                out[i] = round_count(out[i], base)
        return derive_from_shown(table.columns, row, out, base)

    return _each_row(table, hide)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def derive_from_shown(columns: Sequence[Column], exact: Row, shown: list[object], base: int | None) -> Row:
    """A row whose counts are shown rounded (`shown`, from the `exact` row): every share and number column computed
    again from the counts as shown, by its column's `of` — a share from its numerator and denominator as shown
    (a numerator the table does not show: the exact share times the exact denominator, rounded as a count would
    be), a difference from its two columns as computed here. A figure the rule cannot compute again from shown
    counts (no `of`: a mean merit value, a gap whose gender parts the row does not show), or whose counts are
    withheld, is withheld: any figure of the exact counts beside the rounded ones may give them back, and the
    reader is told no figure rather than a wrong one. A value that is no number (`..`, `~100`) stays as it is."""
    keys = {c.key: i for i, c in enumerate(columns)}
    exact_of: dict[str, Fraction] = {}

    def ratio(i: int, of: Ratio) -> object:
        denominators = [keys.get(d) for d in of.denominator]
        if any(d is None or not _count(shown[d]) or not _count(exact[d]) for d in denominators):
            return Withheld()
        whole = sum(int(cast(int, shown[d])) for d in denominators if d is not None)
        if of.numerator is not None:
            n = keys.get(of.numerator)
            if n is None or not _count(shown[n]):
                return Withheld()
            part = int(cast(int, shown[n]))
        else:
            exact_whole = sum(int(exact[d]) for d in denominators if d is not None)
            part = round_count(round(float(exact[i]) * exact_whole), base)
        share = share_of_shown(part, whole)
        if share is None:
            return Withheld()
        exact_of[columns[i].key] = share
        return round(float(share), SHARE_DECIMALS)

    def difference(of: Difference) -> object:
        a, b = exact_of.get(of.minuend), exact_of.get(of.subtrahend)
        return Withheld() if a is None or b is None else round(float(a - b), SHARE_DECIMALS)

    derived = [(i, c) for i, c in enumerate(columns) if c.type in (ColumnType.share, ColumnType.number)
               and c.key not in KEY_COLUMNS and _number(exact[i])]
    for i, column in sorted(derived, key=lambda ic: isinstance(ic[1].of, Difference)):  # the ratios first
        if isinstance(column.of, Ratio):
            shown[i] = ratio(i, column.of)
        elif isinstance(column.of, Difference):
            shown[i] = difference(column.of)
        else:
            shown[i] = Withheld()
    return tuple(shown)
