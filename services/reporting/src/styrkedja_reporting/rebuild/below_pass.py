"""The rebuild's "below the pass level without support" (`support_below_pass`) in one set statement from the final
facts: the rows `support.rules.below_pass_cells` makes of every fact (the consistency check's
`support.linked.recomputed_below_pass`), without loading the facts into Python slice by slice.

The rule, as `below_pass_cells` has it: per (organiser, student, subject) the newest result (`newest_first`: the
newest school year, VT after HT, the latest round, a term grade over an assessment, then the id as text — compared
as Python compares, byte by byte; the uuid's own order is that order, its text lower-case hex digits and hyphens at
fixed places, so the id is sorted as a uuid: no text made per row); if it does not reach the pass level and the
student has no active intervention (`is_active`) in the subject nor one for all subjects (`NO_SUBJECT`), one row at that result's group
(`support.rules.below_pass_row`), count 1."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..figures.tables import _reaches_values
from ..results.rules import GROUP_SEPARATOR
from ..results.tables import ASSESSMENTS
from ..staging import quoted
from ..support.rules import ACTIVE_STATUSES, NO_SUBJECT
from ..support.tables import BELOW_PASS, SUPPORT
from . import explain

_C = 'COLLATE "C"'


def below_pass_sql(order_by: str | None = None) -> str:
    """The INSERT; `order_by`: the rows inserted in that order (the rebuild's key order: `bulk._key_order`)."""
    facts, supports = ASSESSMENTS.facts.name, SUPPORT.facts.name
    cols = ", ".join(quoted(c) for c in (*BELOW_PASS.key, *BELOW_PASS.values))
    # only the (organiser, student, subject)s with some result below the pass level can have a newest one below it
    some_below = (f"SELECT g.organiser_id, g.student_id, g.subject_code FROM {facts} g JOIN {_reaches_values()} "
                  "ON s.scale = g.scale AND s.value = g.value WHERE NOT g.retracted AND NOT s.reaches")
    newest = (f"SELECT DISTINCT ON (f.organiser_id, f.student_id, f.subject_code) f.organiser_id, f.student_id, "
              "f.subject_code, f.school_unit_code, f.group_id, f.scale, f.value "
              f"FROM {facts} f WHERE NOT f.retracted AND (f.organiser_id, f.student_id, f.subject_code) IN ({some_below}) "
              f"ORDER BY f.organiser_id, f.student_id, f.subject_code, f.school_year {_C} DESC, (f.term = 'VT') DESC, "
              "f.round DESC, (f.kind = 'term_grade') DESC, f.assessment_id DESC")
    active = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)
    below = (f"SELECT n.* FROM ({newest}) n JOIN {_reaches_values()} ON s.scale = n.scale AND s.value = n.value "
             f"WHERE NOT s.reaches AND NOT EXISTS (SELECT 1 FROM {supports} p WHERE NOT p.retracted "
             f"AND p.status IN ({active}) AND p.organiser_id = n.organiser_id AND p.student_id = n.student_id "
             f"AND p.subject_code IN (n.subject_code, '{NO_SUBJECT}'))")
    # the group of that newest result only (`support.rules.below_pass_row`: the levels above are read from it)
    rows = (f"SELECT CAST('group' AS varchar) AS level, CAST(b.school_unit_code || '{GROUP_SEPARATOR}' || b.group_id "
            "AS varchar) AS unit_id, b.organiser_id, b.subject_code, b.student_id, 1 AS count FROM b")
    if order_by is not None:
        rows = f"SELECT * FROM ({rows}) AS u({cols}) ORDER BY {order_by}"
    return f"INSERT INTO {BELOW_PASS.table.name} ({cols}) WITH b AS MATERIALIZED ({below}) {rows}"


async def rebuild_below_pass(session: AsyncSession, before_insert: Callable[[], Awaitable[None]] | None = None,
                             order_by: str | None = None) -> None:
    """The table emptied (the support stage's handler may have written rows) and filled from the final facts;
    `before_insert`: run between the two (the rebuild drops the table's indexes there, to build them after);
    `order_by`: as `below_pass_sql`'s."""
    await session.execute(text(f"DELETE FROM {BELOW_PASS.table.name}"))
    await session.execute(text(f"ANALYZE {SUPPORT.facts.name}"))  # filled by the support stage just now
    if before_insert is not None:
        await before_insert()
    await explain.execute(session, "below_pass", below_pass_sql(order_by))
