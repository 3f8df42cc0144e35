"""figures

The figures' materialised state (pass tallies per gender, result dates, students per cell,
forecast against outcome, merit) and
the dates the facts need for them (assessed_on, submitted_on). Facts stored before this have no
date and count in no figure until a rebuild (replay) fills them in.

Revision ID: 9e3f4a5b6c7d
Revises: 8d2e3f4a5b6c
Create Date: 2026-12-01 05:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '9e3f4a5b6c7d'
down_revision = '8d2e3f4a5b6c'
branch_labels = None
depends_on = None

CELL = ("level", "unit_id", "organiser_id", "subject_code", "year", "school_year", "period")
COUNTERS = ("assessed_female", "reaching_female", "assessed_male", "reaching_male", "assessed_unknown",
            "reaching_unknown")


FORECAST_CELL = ("level", "unit_id", "organiser_id", "subject_code", "year", "gender", "school_year", "period")
FORECAST_COUNTERS = ("held", "said_reaches_did_not", "said_not_reached_did", "no_outcome")
MERIT_CELL = ("level", "unit_id", "organiser_id", "year", "gender", "school_year", "period")
MERIT_COUNTERS = ("graded_students", "all_pass", "merit_students", "merit_half_points", "eligible_vocational",
                  "eligible_preparatory_ek_hu_sa", "eligible_preparatory_na_te", "eligible_preparatory_es")
FIGURE_TABLES = ('figure_pass', 'figure_dates', 'figure_students', 'figure_forecasts', 'figure_merit')


def _cell(cell: tuple[str, ...] = CELL) -> list[sa.Column]:
    return [sa.Column(d, sa.Integer() if d == "year" else sa.String(length=80), nullable=False) for d in cell]


def upgrade() -> None:
    op.add_column('assessment_facts', sa.Column('assessed_on', sa.Date(), nullable=True))
    op.add_column('forecast_facts', sa.Column('submitted_on', sa.Date(), nullable=True))
    op.create_table('figure_pass', *_cell(), *[sa.Column(c, sa.Integer(), nullable=False) for c in COUNTERS],
                    sa.PrimaryKeyConstraint(*CELL))
    op.create_table('figure_dates', *_cell(), sa.Column('day', sa.Date(), nullable=False),
                    sa.Column('count', sa.Integer(), nullable=False), sa.PrimaryKeyConstraint(*CELL, 'day'))
    op.create_table('figure_students', *_cell(), sa.Column('student_id', sa.String(length=64), nullable=False),
                    sa.Column('count', sa.Integer(), nullable=False), sa.PrimaryKeyConstraint(*CELL, 'student_id'))
    for table, cell in (('figure_forecasts', FORECAST_CELL), ('figure_merit', MERIT_CELL)):
        counters = FORECAST_COUNTERS if table == 'figure_forecasts' else MERIT_COUNTERS
        op.create_table(table, *_cell(cell), *[sa.Column(c, sa.Integer(), nullable=False) for c in counters],
                        sa.PrimaryKeyConstraint(*cell))
    for table in FIGURE_TABLES:
        op.create_index(f'ix_{table}_organiser_level', table, ['organiser_id', 'level', 'school_year', 'period'])
    op.create_index('ix_assessment_facts_student', 'assessment_facts', ['student_id', 'school_year', 'term'])
    op.create_index('ix_forecast_facts_student', 'forecast_facts', ['student_id', 'school_year', 'term'])


def downgrade() -> None:
    op.drop_index('ix_forecast_facts_student', table_name='forecast_facts')
    op.drop_index('ix_assessment_facts_student', table_name='assessment_facts')
    for table in reversed(FIGURE_TABLES):
        op.drop_index(f'ix_{table}_organiser_level', table_name=table)
        op.drop_table(table)
    op.drop_column('forecast_facts', 'submitted_on')
    op.drop_column('assessment_facts', 'assessed_on')
