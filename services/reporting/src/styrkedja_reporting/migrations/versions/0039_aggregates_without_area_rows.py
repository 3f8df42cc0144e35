"""assessment_aggregates and forecast_aggregates keep no area rows (apply35pg): an area's cells are its school units'
rows summed where they are read (`results.tables.with_areas`), as the nation's are the organiser level's.

The apply path wrote an area row beside most new school-unit rows (0.415 of the 1.629 aggregate rows written per
event in the deadline week; bench/README.md apply35pg), and a school unit moving between areas moved its rows.

Upgrade: the area rows deleted (the other levels' are as they were).
Downgrade: the area rows made again from the school unit rows of the school units placed in an area, summed per cell
as the apply path kept them.

Revision ID: 7c4e1a9d2b60
Revises: 3d9a6f1c8e25
Create Date: 2026-12-06 04:30:00
"""
from alembic import op

revision = '7c4e1a9d2b60'
down_revision = '3d9a6f1c8e25'
branch_labels = None
depends_on = None

#: each table's columns after level and unit id, as they were here
_REST = {
    "assessment_aggregates": ("organiser_id", "subject_code", "school_year", "term", "round", "kind", "scale", "year",
                              "gender", "value"),
    "forecast_aggregates": ("organiser_id", "subject_code", "school_year", "term", "year", "gender", "value", "late"),
}


def upgrade() -> None:
    for table in _REST:
        op.execute(f"DELETE FROM {table} WHERE level = 'area'")


def downgrade() -> None:
    for table, rest in _REST.items():
        columns = ", ".join(f'a."{c}"' for c in rest)
        op.execute(
            f"INSERT INTO {table} (level, unit_id, {', '.join(f'{chr(34)}{c}{chr(34)}' for c in rest)}, count) "
            f"SELECT 'area', p.area_id, {columns}, sum(a.count) FROM {table} a "
            "JOIN school_unit_placements p ON p.school_unit_code = a.unit_id AND p.area_id IS NOT NULL "
            f"WHERE a.level = 'school_unit' GROUP BY p.area_id, {columns}")
