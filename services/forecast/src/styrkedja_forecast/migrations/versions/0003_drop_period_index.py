"""drop ix_forecasts_period: no query of the forecast service reads forecasts by period

The forecast service reads its current rows by id only (the write path's lock); who has (not)
reported in a window is answered by reporting from the events, in its own database. The index cost
every stored row one more index insert (bench/results/write3.json).

Revision ID: 3f5a7c9e1b24
Revises: a1c3e5f7b9d2
Create Date: 2026-12-01 19:30:00
"""
from alembic import op

revision = '3f5a7c9e1b24'
down_revision = 'a1c3e5f7b9d2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_forecasts_period', table_name='forecasts')


def downgrade() -> None:
    op.create_index('ix_forecasts_period', 'forecasts', ['organiser_id', 'school_year', 'term', 'school_unit_code'],
                    unique=False)
