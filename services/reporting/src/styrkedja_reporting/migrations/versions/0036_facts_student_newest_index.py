"""assessment_facts: the student index in the order of support's newest result (apply33) — (student, subject,
school year in the "C" collation, VT after HT, round, a term grade over another kind, id), as
`support.rules.newest_first` and `support.linked`'s newest-result read order them — replacing (student, subject,
school year, term). The read per (organiser, student, subject) was every result of the subject fetched and sorted
per key (~4.7 rows per key in the deadline week); now an index scan backward that stops at the first result not
left out. Still one index entry per fact. The readers by (student, subject, school year, term) and by (student,
school year, term) keep an index plan on its (student, subject) and student prefixes.

Downgrade: the index on (student, subject, school year, term) again, as 0019 made it.

Revision ID: 7c1e5a9d3b62
Revises: c66db3431cbd
Create Date: 2026-12-05 23:30:00
"""
from alembic import op

revision = '7c1e5a9d3b62'
down_revision = 'c66db3431cbd'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_assessment_facts_student_subject', table_name='assessment_facts')
    op.execute("CREATE INDEX ix_assessment_facts_student_newest ON assessment_facts (student_id, subject_code, "
               "school_year, (term = 'VT'), round, (kind = 'term_grade'), assessment_id)")


def downgrade() -> None:
    op.drop_index('ix_assessment_facts_student_newest', table_name='assessment_facts')
    op.create_index('ix_assessment_facts_student_subject', 'assessment_facts',
                    ['student_id', 'subject_code', 'school_year', 'term'])
