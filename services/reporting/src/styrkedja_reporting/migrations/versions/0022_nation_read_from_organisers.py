"""The nation level is read from the organiser level's cells (apply18). With the organiser in every cell's key, a
nation cell was a row-for-row copy of its organiser cell (level `nation`, unit `SE`): a fifth of every cell table's
rows, written by every batch. The reads of the nation now sum the organiser level's cells (`results.rules.read_level`);
the copies go.

Downgrade: the copies made again from the organiser level's rows.

Revision ID: b8e2f6a0c4d7
Revises: a7d1e5c9f3b6
Create Date: 2026-12-03 19:00:00
"""
from alembic import op

revision = 'b8e2f6a0c4d7'
down_revision = 'a7d1e5c9f3b6'
branch_labels = None
depends_on = None

#: every table of cells kept per level (each has `level` and `unit_id` and the organiser in its key)
TABLES = ('assessment_aggregates', 'forecast_aggregates', 'figure_pass', 'figure_forecasts', 'figure_merit',
          'support_aggregates', 'support_students', 'support_below_pass', 'plan_aggregates')


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"DELETE FROM {table} WHERE level = 'nation'")


def downgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        columns = [r[0] for r in bind.exec_driver_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            f"AND table_name = '{table}' ORDER BY ordinal_position").all()]
        names = ', '.join(f'"{c}"' for c in columns)
        values = ', '.join("'nation'" if c == 'level' else "'SE'" if c == 'unit_id' else f'"{c}"' for c in columns)
        op.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM {table} WHERE level = 'organiser'")
