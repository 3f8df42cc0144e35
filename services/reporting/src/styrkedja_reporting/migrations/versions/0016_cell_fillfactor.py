"""cells: the tables of cells every batch adds to (aggregates of both fact kinds, the figures' pass, dates,
students, forecasts and merit) keep room on their pages (fillfactor 70), so a batch's updates in place are
heap-only (HOT: no new entries in their wide key and read indexes); existing pages get the room as they are
rewritten.

Revision ID: b8e2f6a1c4d9
Revises: a7d1e5c0f3b2
Create Date: 2026-12-02 01:30:00
"""
from alembic import op

revision = 'b8e2f6a1c4d9'
down_revision = 'a7d1e5c0f3b2'
branch_labels = None
depends_on = None

TABLES = ('assessment_aggregates', 'forecast_aggregates', 'figure_pass', 'figure_dates', 'figure_students',
          'figure_forecasts', 'figure_merit')


def upgrade() -> None:
    for table in TABLES:
        op.execute(f'ALTER TABLE {table} SET (fillfactor = 70)')


def downgrade() -> None:
    for table in TABLES:
        op.execute(f'ALTER TABLE {table} RESET (fillfactor)')
