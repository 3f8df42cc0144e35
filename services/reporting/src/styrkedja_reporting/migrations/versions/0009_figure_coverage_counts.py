"""figures: coverage as a lookup

`figure_pass.students` — distinct students with a result per cell at every level, kept by the
apply path — filled from the student multisets as they stand; `figure_students` then keeps only
the group cells (the evidence the apply path needs), with an index to find one student's groups.

Revision ID: 5c0e7a9d2b14
Revises: c8d9e0f1a2b3
Create Date: 2026-12-01 10:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '5c0e7a9d2b14'
down_revision = 'c8d9e0f1a2b3'
branch_labels = None
depends_on = None

CELL = ("level", "unit_id", "organiser_id", "subject_code", "year", "school_year", "period")


def upgrade() -> None:
    op.add_column('figure_pass', sa.Column('students', sa.Integer(), nullable=False, server_default='0'))
    op.alter_column('figure_pass', 'students', server_default=None)
    keys = ", ".join(CELL)
    on = " AND ".join(f"a.{k} = s.{k}" for k in CELL)
    op.execute(f"UPDATE figure_pass a SET students = s.n FROM (SELECT {keys}, count(*) AS n FROM figure_students "
               f"WHERE count > 0 GROUP BY {keys}) s WHERE {on}")
    op.execute("DELETE FROM figure_students WHERE level <> 'group'")
    op.create_index('ix_figure_students_student', 'figure_students',
                    ['student_id', 'subject_code', 'school_year', 'period'])


def downgrade() -> None:
    op.drop_index('ix_figure_students_student', table_name='figure_students')
    op.drop_column('figure_pass', 'students')
    # the multisets above group level are not restored here: rebuild (replay) to fill them
