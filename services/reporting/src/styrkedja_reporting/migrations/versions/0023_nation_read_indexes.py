"""nation reads: a partial index of the organiser level's rows (the nation's, summed over organisers since 0022) by
what a nation read selects — assessment and forecast aggregates by subject, school year and term, the figures' pass
cells by school year and period. Without it a nation read scanned the whole table for them (at 290 organisers 2M
aggregate rows for a subject's and term's 15k). Only an organiser cell's insert writes it; the counts are in no
index, so their updates stay heap-only (nation19).

Revision ID: c3f9a1d5e7b2
Revises: b8e2f6a0c4d7
Create Date: 2026-12-03 22:55:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'c3f9a1d5e7b2'
down_revision = 'b8e2f6a0c4d7'
branch_labels = None
depends_on = None

ORGANISER_ROWS = sa.text("level = 'organiser'")


def upgrade() -> None:
    op.create_index('ix_assessment_aggregates_nation', 'assessment_aggregates', ['subject_code', 'school_year', 'term'],
                    postgresql_where=ORGANISER_ROWS)
    op.create_index('ix_forecast_aggregates_nation', 'forecast_aggregates', ['subject_code', 'school_year', 'term'],
                    postgresql_where=ORGANISER_ROWS)
    op.create_index('ix_figure_pass_nation', 'figure_pass', ['school_year', 'period'], postgresql_where=ORGANISER_ROWS)


def downgrade() -> None:
    op.drop_index('ix_figure_pass_nation', table_name='figure_pass')
    op.drop_index('ix_forecast_aggregates_nation', table_name='forecast_aggregates')
    op.drop_index('ix_assessment_aggregates_nation', table_name='assessment_aggregates')
