"""compliance: per forecast, whether its current run is late (`compliance_forecast_runs`). The forecast lists read
the newest revision's `late` flag, which the forecast service sets at each revision's own time: an on-time forecast
corrected after the deadline was listed late (round 26b). The run's flag (`rules.fold_forecast_run`) keeps it on time.

Filled from the stored facts: each forecast's newest revision is all that is known of its past, so a forecast
corrected late before this migration stays late until a rebuild folds its events (the rebuild derives the table from
the log).

Revision ID: d4f9b2c7e1a8
Revises: c8e2a4f6b0d3
Create Date: 2026-12-05 03:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'd4f9b2c7e1a8'
down_revision = 'c8e2a4f6b0d3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'compliance_forecast_runs',
        sa.Column('forecast_id', sa.Uuid(), nullable=False),
        sa.Column('organiser_id', sa.String(length=16), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('withdrawn_revision', sa.Integer(), nullable=True),
        sa.Column('on_time_revision', sa.Integer(), nullable=True),
        sa.Column('late', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('forecast_id', 'organiser_id'),
    )
    op.execute("INSERT INTO compliance_forecast_runs (forecast_id, organiser_id, revision, withdrawn_revision, "
               "on_time_revision, late) SELECT forecast_id, organiser_id, revision, "
               "CASE WHEN withdrawn THEN revision END, CASE WHEN NOT withdrawn AND NOT late THEN revision END, "
               "late AND NOT withdrawn FROM forecast_facts")


def downgrade() -> None:
    op.drop_table('compliance_forecast_runs')
