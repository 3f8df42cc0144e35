"""Students below the pass level without any support, kept by deltas.

The figure links two kinds of facts — a student's newest result in a subject and the student's
active interventions — so it is kept as the figures' linked figures are: for the students a
batch touched (results: the student × subject; interventions: the student × subject, or every
subject of the student for an all-subject intervention), the facts are loaded once per fact
table, "before" is those facts with the batch's changed ones put back to their old versions,
and the rows move by `below_pass_cells(after) − below_pass_cells(before)` (group rows only:
the levels above are read from them, `rules.below_pass_row`). Applying it after
results (assessment batches) and after the interventions (support batches) keeps it equal to
`below_pass_cells` of all the facts (the consistency check's recomputation)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..results.rules import fact_maker
from ..results.tables import ASSESSMENTS, FactStore
from ..staging import json_rows, quoted, text_rows_of_json
from ..student_slices import Slice, slice_filter
from .rules import (
    ACTIVE_STATUSES,
    NEWEST_FIELDS,
    NO_SUBJECT,
    NewestResult,
    Ranked,
    SupportFact,
    below_pass_cells,
    below_pass_change,
    is_active,
)
from .tables import BELOW_PASS, SUPPORT

Pair = tuple[Any, Any]  # (stored before or None, after)


async def _load(session: AsyncSession, store: FactStore, hidden: str, students: set[tuple[str, str]],
                subjects: set[tuple[str, str, str]] | None, extra: str = "") -> list[Any]:
    """Facts of the (organiser, student)s — all their subjects — and of the (organiser, student,
    subject)s, in one statement."""
    if not students and not subjects:
        return []
    sql, params = _load_statement(store, hidden, students, subjects, extra)
    return [store.fact_type(*row) for row in (await session.execute(text(sql), params)).all()]


def _load_statement(store: FactStore, hidden: str, students: set[tuple[str, str]],
                    subjects: set[tuple[str, str, str]] | None, extra: str = "", prefix: str = ""
                    ) -> tuple[str, dict[str, Any]]:
    """`_load`'s SELECT and parameters (named with `prefix`, for a statement that holds it with others)."""
    cols = ", ".join(f"f.{quoted(n)}" for n in store.fact_fields)
    # one list of keys (subject NULL: every subject of the student) joined on the facts, so the keys
    # drive an index lookup per student; a subject key of a student whose every subject is wanted
    # already is left out (each fact matches one key: no duplicates). An `OR` of two `IN (unnest)`
    # arms cannot use an index and read the whole fact table per batch.
    keys = sorted(students)
    keys_with_subject = sorted(k for k in subjects or () if (k[0], k[1]) not in students)
    facts = f"{store.facts.name} f"
    if store is ASSESSMENTS:
        # one student's results by `results.tables.FACTS_NEWEST_INDEX`'s student prefix (LATERAL, OFFSET 0
        # keeping the other columns outside): with statistics older than the table's growth, the organiser index
        # was ANDed in per key — every result of the organiser read per student (0.45 s per batch of 5,000 at 43k
        # results)
        facts = (f"LATERAL (SELECT * FROM {store.facts.name} f WHERE f.student_id = k.student_id OFFSET 0) f")
    # the keys as one JSON parameter (`staging.json_rows`: no asyncpg type check per array element)
    sql = (f"SELECT {cols} FROM ({text_rows_of_json(f'CAST(:{prefix}keys AS text)', _KEY_NAMES)}) "
           f"AS k JOIN {facts} ON f.student_id = k.student_id "
           f"AND f.organiser_id = k.organiser_id AND (k.subject_code IS NULL OR f.subject_code = k.subject_code) "
           f"WHERE NOT f.{hidden} {extra}")
    return sql, {f"{prefix}keys": _keys_json(keys, keys_with_subject)}


_KEY_NAMES = ("organiser_id", "student_id", "subject_code")


def _keys_json(keys: Sequence[tuple[str, str]], keys_with_subject: Sequence[tuple[str, str, str]]) -> str:
    """(organiser, student, subject) keys as `json_rows`: a student's keys first, subject null (every subject)."""
    return json_rows([(o, s, None) for o, s in keys] + list(keys_with_subject))


def _before(after: Iterable[Any], changes: Sequence[Pair], id_field: str, in_scope: Callable[[Any], bool]) -> list[Any]:
    """The facts as they were before the batch: the changed ones put back to their old versions."""
    changed = {getattr(new, id_field): old for old, new in changes}
    out = [f for f in after if getattr(f, id_field) not in changed]
    return out + [old for old in changed.values() if old is not None and in_scope(old)]


# The newest result per (organiser, student, subject) of the keys (subject NULL: every subject of the student),
# left out the batch's changed results: `newest_first` in SQL (a UUID's order is its text's; a school year is
# `\d{4}/\d{2}` by its contract, ordered alike in every collation — byte order, as Python compares strings). The
# batch's changed facts (after and before) are added in Python: the newest of a key after the batch is the newest
# of these and the key's changed facts after it, before the batch the same with their old versions — one row per
# key, not every result of it.
# A key with a subject reads `results.tables.FACTS_NEWEST_INDEX` — (student, subject) then this very order —
# backward from its end and stops at the first result that is neither retracted nor changed nor another
# organiser's (`LIMIT 1`, no sort: apply33; before, a LATERAL read every result of the subject and sorted them per
# key, ~4.7 rows per key in the deadline week). With `k.subject_code IS NULL OR …` in one LATERAL every key walked
# all of its student's results (~175k buffers per deadline-week batch of 5,000, apply14) and one DISTINCT ON
# sorted every row read (~15,000 wide rows per batch); a student's key (every subject: an all-subject
# intervention, rare) reads the student prefix under a DISTINCT ON, OFFSET 0 keeping the other columns outside the
# index look-up (see `_load`). Each fact matches one key (`newest_unchanged_statement`).
# A subject's key looks up (student, subject) alone, in the index's order, under OFFSET 0 (the organiser and the
# changed ids compared outside it, as the rows come): with the organiser inside, statistics of a near-empty table
# (a fresh database analysed, then the first batches) made the generic plan take the organiser index and sort per
# key — every result of the organiser read for each of 5,000 keys, 105 s for one deadline-week batch (apply38)
_NEWEST_ORDER = "f.school_year DESC, (f.term = 'VT') DESC, f.round DESC, (f.kind = 'term_grade') DESC, f.assessment_id DESC"
# The batch's changed ids as a hashed subplan (`NOT IN (SELECT unnest …)`: one hash table per statement): `<> ALL(array)`
# compared every read row with every changed id — a generic plan never hashes a parameter's array — ~0.2 ms per key
# at 5,000 changed results (apply19: 1.0 of this statement's 1.03 s per deadline-week batch of 5,000 under auto_explain).
# A changed fact is its organiser's and id (`results.tables.fact_table`): another organiser's result under the same
# id is not changed by it — compared by both (`_BY_KEY`) where the keys name several organisers; where they name one
# (a batch is one organiser's partition: nearly always), every fact read and every changed one is that organiser's and
# the id alone tells them (`_BY_ID`: a hash of the ids only, as before).
_BY_ID = "f.assessment_id NOT IN (SELECT unnest(CAST(:changed AS uuid[])))"
_BY_KEY = ("(f.assessment_id, f.organiser_id) NOT IN (SELECT * FROM "
           "unnest(CAST(:changed AS uuid[]), CAST(:changed_organisers AS text[])))")


def _newest_unchanged(changed: str) -> str:
    unchanged = f"NOT f.retracted AND {changed}"
    return (
        "SELECT * FROM (SELECT DISTINCT ON (f.organiser_id, f.student_id, f.subject_code) {cols} "
        f"FROM ({text_rows_of_json('CAST(:students AS text)', _KEY_NAMES[:2])}) AS k "
        "JOIN LATERAL (SELECT * FROM {facts} f WHERE f.student_id = k.student_id OFFSET 0) f "
        f"ON f.organiser_id = k.organiser_id WHERE {unchanged} "
        f"ORDER BY f.organiser_id, f.student_id, f.subject_code, {_NEWEST_ORDER}) AS every_subject "
        "UNION ALL SELECT f.* "
        f"FROM ({text_rows_of_json('CAST(:subjects AS text)', _KEY_NAMES)}) AS k "
        "CROSS JOIN LATERAL (SELECT {cols} FROM (SELECT * FROM {facts} f WHERE f.student_id = k.student_id "
        f"AND f.subject_code = k.subject_code ORDER BY {_NEWEST_ORDER} OFFSET 0) f "
        f"WHERE f.organiser_id = k.organiser_id AND {unchanged} LIMIT 1) f")


#: by whether the keys name one organiser (`_BY_ID`) or several (`_BY_KEY`)
_NEWEST_UNCHANGED = {True: _newest_unchanged(_BY_ID), False: _newest_unchanged(_BY_KEY)}


async def _newest_unchanged_and_supports(session: AsyncSession, students: set[tuple[str, str]],
                                         subjects: set[tuple[str, str, str]], changed: Iterable[Any],
                                         support_students: set[tuple[str, str]]
                                         ) -> tuple[list[NewestResult], list[SupportFact]]:
    """Per key of `_load`'s: its newest result (`newest_first`) that is not retracted and not in `changed`, as the
    rule reads it (`NewestResult`); and the active interventions (`_ACTIVE_ONLY`) of `support_students` — both in
    one statement (one round trip: each set as an array of rows)."""
    newest, params = newest_unchanged_statement(students, subjects, changed)
    supports, support_params = _load_statement(SUPPORT, "retracted", support_students, None, _ACTIVE_ONLY, "s_")
    sql = f"SELECT ARRAY(SELECT ROW(n.*) FROM ({newest}) n), ARRAY(SELECT ROW(s.*) FROM ({supports}) s)"
    results, active = (await session.execute(text(sql), params | support_params)).one()
    make = _make_newest
    return [make(*row) for row in results], [SUPPORT.fact_type(*row) for row in active]


_make_newest = fact_maker(NewestResult)  # `NewestResult(*values)`, faster


_FIRST = itemgetter(0)  # a key's organiser; a pair's stored fact (or None)
_NEW = itemgetter(1)  # a pair's new fact
_KEY_OF = attrgetter("organiser_id", "student_id", "subject_code")
#: the columns of `NewestResult` (of ~18: the rule's only)
_NEWEST_COLUMNS = ", ".join(f"f.{quoted(n)}" for n in NEWEST_FIELDS)


def newest_unchanged_statement(students: set[tuple[str, str]], subjects: set[tuple[str, str, str]],
                               changed: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """`_NEWEST_UNCHANGED` and its parameters: the (organiser, student) keys (every subject) and the (organiser,
    student, subject) keys of a student not among those (each fact matches one key); `changed`: the (organiser,
    id) of the facts to leave out (`FactStore.key_of`)."""
    keys = sorted(students)
    # (a batch of results names no student's every subject: its ~5,000 keys are taken as they are, in C)
    keys_with_subject = sorted(k for k in subjects if (k[0], k[1]) not in students) if students else sorted(subjects)
    one_organiser = len({*map(_FIRST, keys), *map(_FIRST, keys_with_subject)}) <= 1
    sql = _NEWEST_UNCHANGED[one_organiser].format(cols=_NEWEST_COLUMNS, facts=ASSESSMENTS.facts.name)
    changed = list(changed)  # in any order, repeats harmless (`NOT IN` a hashed set): no sort
    params = {"students": json_rows(keys), "subjects": json_rows(keys_with_subject),
              "changed": [fact_id for _, fact_id in changed]}
    if not one_organiser:
        params["changed_organisers"] = [organiser for organiser, _ in changed]
    return sql, params


async def apply_below_pass(session: AsyncSession, *, results: Sequence[Pair] = (), supports: Sequence[Pair] = ()
                           ) -> None:
    """Move the below-pass-without-support rows by what this batch's changed facts change. The rows are at the group
    level only (`rules.below_pass_row`): no school unit's area is read."""
    students: set[tuple[str, str]] = set()
    # a result's key is its subject's (keyed in C: ~5,000 results per batch of results)
    subjects: set[tuple[str, str, str]] = {*map(_KEY_OF, map(_NEW, results)),
                                           *map(_KEY_OF, filter(None, map(_FIRST, results)))}
    for fact in (f for pair in supports for f in pair if f is not None):
        if fact.subject_code == NO_SUBJECT:
            students.add((fact.organiser_id, fact.student_id))
        else:
            subjects.add((fact.organiser_id, fact.student_id, fact.subject_code))
    if not students and not subjects:
        return

    def in_scope(fact: Any) -> bool:
        return ((fact.organiser_id, fact.student_id) in students
                or (fact.organiser_id, fact.student_id, fact.subject_code) in subjects)

    # the results of the keys: the newest unchanged one per key, and the batch's changed ones after / before
    # and every active intervention of the students (an all-subject one covers each subject): one statement
    support_students = students | {(o, s) for o, s, _ in subjects}
    unchanged, active = await _newest_unchanged_and_supports(
        session, students, subjects, map(ASSESSMENTS.key_of, (new for _, new in results)), support_students)
    if not supports:  # a batch of results: the interventions are as they were, only the keys whose newest differs
        olds = [old for old, _ in results if old is not None]  # every old version's key is among `subjects`
        news = [new for _, new in results]
        moved = below_pass_change(unchanged, olds, news, active)
        await BELOW_PASS.add(session, [(*key, n) for key, n in moved.items() if n])
        return
    results_after: list[Ranked] = [*unchanged, *(new for _, new in results if not new.retracted)]
    results_before: list[Ranked] = [*unchanged, *(old for old, _ in results
                                                   if old is not None and not old.retracted and in_scope(old))]
    supports_after: list[SupportFact] = [f for f in active if is_active(f)]
    supports_before = _before(supports_after, supports, "intervention_id",
                              lambda f: is_active(f) and (f.organiser_id, f.student_id) in support_students)
    change: Counter[Any] = below_pass_cells(results_after, supports_after)
    change.subtract(below_pass_cells(results_before, supports_before))
    await BELOW_PASS.add(session, [(*key, n) for key, n in change.items() if n])


#: only the interventions `is_active` keeps are read (the rest were read and dropped)
_ACTIVE_ONLY = "AND f.status IN (" + ", ".join(f"'{s}'" for s in ACTIVE_STATUSES) + ")"


async def recomputed_below_pass(session: AsyncSession, *, below_only: bool = False,
                                student_slice: Slice = None) -> list[tuple[Any, ...]]:
    """The figure from all the facts by the same rule (the consistency check; never on a read).
    `below_only` (the rebuild): read only the results of an (organiser, student, subject) with some result
    below the pass level — the others' newest result reaches it, they count nowhere: the same rows.
    `student_slice` (i, n): only the students in slice i of n (by a hash of the student id), or in a
    `StudentRange` (the rule is per student, so the slices' rows add up to the whole's: the rebuild and the
    consistency check, in bounded memory)."""
    only, params = slice_filter(student_slice)

    async def every(store: FactStore, where: str = "") -> list[Any]:
        cols = ", ".join(quoted(n) for n in store.fact_fields)
        rows = (await session.execute(text(f"SELECT {cols} FROM {store.facts.name} WHERE NOT retracted {where}"),
                                      params)).all()
        return [store.fact_type(*row) for row in rows]

    below = ""
    if below_only:
        from ..figures.tables import _reaches_values  # the pass rule as a VALUES list, from the contracts' scales

        below = (f"AND (organiser_id, student_id, subject_code) IN (SELECT g.organiser_id, g.student_id, "
                 f"g.subject_code FROM {ASSESSMENTS.facts.name} g JOIN {_reaches_values()} "
                 f"ON s.scale = g.scale AND s.value = g.value WHERE NOT g.retracted AND NOT s.reaches)")
    cells = below_pass_cells(await every(ASSESSMENTS, f"{below} {only}"), await every(SUPPORT, only))
    return [(*key, n) for key, n in cells.items() if n]

