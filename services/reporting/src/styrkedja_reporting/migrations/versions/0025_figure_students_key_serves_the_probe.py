"""figure_students: the key's unit moved last (organiser, level, school year, period, subject, year, student, unit)
and the student index dropped — the apply path's look-up of one student's groups in a subject and period (every
student cell a batch adds or empties) is then a range of the key, and a new student cell writes one index entry
instead of two (issue 16, bench/results/apply22.json). The same rows; only the key's column order changes.

Downgrade: the key as 0020 left it and the student index made as 0009 made it.

Revision ID: e7b1d3f5a9c2
Revises: d5a7c9e1f3b4
Create Date: 2026-12-04 13:40:00
"""
from alembic import op

revision = 'e7b1d3f5a9c2'
down_revision = 'd5a7c9e1f3b4'
branch_labels = None
depends_on = None

KEY = ('organiser_id', 'level', 'school_year', 'period', 'subject_code', 'year', 'student_id', 'unit_id')
KEY_BEFORE = ('organiser_id', 'level', 'school_year', 'period', 'unit_id', 'subject_code', 'year', 'student_id')


def _rekey(key: tuple[str, ...]) -> None:
    op.execute('ALTER TABLE figure_students DROP CONSTRAINT figure_students_pkey, '
               f'ADD CONSTRAINT figure_students_pkey PRIMARY KEY ({", ".join(key)})')


def upgrade() -> None:
    _rekey(KEY)
    op.drop_index('ix_figure_students_student', table_name='figure_students')


def downgrade() -> None:
    _rekey(KEY_BEFORE)
    op.create_index('ix_figure_students_student', 'figure_students',
                    ['student_id', 'subject_code', 'school_year', 'period'])
