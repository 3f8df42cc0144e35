"""assessment_facts: the student index in the order of support's newest result (apply33) — (student, subject,
school year (no COLLATE: the contract's `NNNN/NN` orders alike in every collation), VT after HT, round, a term grade over another kind, id), as
`support.rules.newest_first` and `support.linked`'s newest-result read order them — replacing (student, subject,
school year, term). The read per (organiser, student, subject) was every result of the subject fetched and sorted
per key (~4.7 rows per key in the deadline week); now an index scan backward that stops at the first result not
left out. Still one index entry per fact. The readers by (student, subject, school year, term) and by (student,
school year, term) keep an index plan on its (student, subject) and student prefixes.

Built CONCURRENTLY, as 0034's (ops32): assessment_facts is the largest table (6.4M rows at national scale), and a
plain CREATE INDEX would hold every apply batch behind its SHARE lock for the whole build. The new index is built
first and the old one dropped after, so the newest-result read always has an index to use. An INVALID leftover of a
stopped build is dropped and built again; a valid one is kept.

Downgrade: the index on (student, subject, school year, term) again, as 0019 made it (concurrently too).

Revision ID: 7c1e5a9d3b62
Revises: c66db3431cbd
Create Date: 2026-12-05 23:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '7c1e5a9d3b62'
down_revision = 'c66db3431cbd'
branch_labels = None
depends_on = None


_NEW = 'ix_assessment_facts_student_newest'
_OLD = 'ix_assessment_facts_student_subject'


def _invalid(name: str) -> bool:
    """An index of this name (where the search path resolves it) that a stopped build left unusable."""
    return bool(op.get_bind().execute(sa.text(
        'SELECT NOT (indisvalid AND indisready) FROM pg_index WHERE indexrelid = to_regclass(:name)'),
        {'name': name}).scalar())


def _build(name: str, definition: str) -> None:
    if _invalid(name):
        op.drop_index(name, table_name='assessment_facts', postgresql_concurrently=True, if_exists=True)
    op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON assessment_facts {definition}")


def upgrade() -> None:
    with op.get_context().autocommit_block():
        _build(_NEW, "(student_id, subject_code, school_year, (term = 'VT'), round, (kind = 'term_grade'), "
                     "assessment_id)")
        op.drop_index(_OLD, table_name='assessment_facts', postgresql_concurrently=True, if_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        _build(_OLD, "(student_id, subject_code, school_year, term)")
        op.drop_index(_NEW, table_name='assessment_facts', postgresql_concurrently=True, if_exists=True)
