"""assessment_facts: the student index carries the subject second — (student, subject, school year, term) — so
that support's newest result per (student, subject) descends to that subject's few results instead of walking
every result of the student (apply14: the deadline week's largest statement, ~175k buffers per batch of 5,000).
Still one index entry per fact (it replaces the old one); the readers by (student, school year, term) keep an
index plan on the student prefix (PostgreSQL 18 skips over the subjects).

Downgrade: the index on (student, school year, term) again, as 0005 made it.

Revision ID: e5b9c3f7a1d4
Revises: d4a8b2e6f0c3
Create Date: 2026-12-03 03:40:00
"""
from alembic import op

revision = 'e5b9c3f7a1d4'
down_revision = 'd4a8b2e6f0c3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_assessment_facts_student', table_name='assessment_facts')
    op.create_index('ix_assessment_facts_student_subject', 'assessment_facts',
                    ['student_id', 'subject_code', 'school_year', 'term'])


def downgrade() -> None:
    op.drop_index('ix_assessment_facts_student_subject', table_name='assessment_facts')
    op.create_index('ix_assessment_facts_student', 'assessment_facts', ['student_id', 'school_year', 'term'])
