"""figure_students: the key led by the read index's columns (organiser, level, school year, period, then unit,
subject, year, student) and that read index dropped — a new student cell (most of the table's writes) writes two
index entries instead of three. The same rows; only the key's column order changes (as 0018 for the aggregates).

Downgrade: the key in the cell's order again and the read index made as 0005 made it.

Revision ID: f6c0d4a8b2e5
Revises: e5b9c3f7a1d4
Create Date: 2026-12-03 03:40:00
"""
from alembic import op

revision = 'f6c0d4a8b2e5'
down_revision = 'e5b9c3f7a1d4'
branch_labels = None
depends_on = None

KEY = ('organiser_id', 'level', 'school_year', 'period', 'unit_id', 'subject_code', 'year', 'student_id')
KEY_BEFORE = ('level', 'unit_id', 'organiser_id', 'subject_code', 'year', 'school_year', 'period', 'student_id')


def _rekey(key: tuple[str, ...]) -> None:
    op.execute('ALTER TABLE figure_students DROP CONSTRAINT figure_students_pkey, '
               f'ADD CONSTRAINT figure_students_pkey PRIMARY KEY ({", ".join(key)})')


def upgrade() -> None:
    _rekey(KEY)
    op.drop_index('ix_figure_students_organiser_level', table_name='figure_students')


def downgrade() -> None:
    _rekey(KEY_BEFORE)
    op.create_index('ix_figure_students_organiser_level', 'figure_students',
                    ['organiser_id', 'level', 'school_year', 'period'])
