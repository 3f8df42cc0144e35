"""support_below_pass keeps the group level only (apply34): one row per student × subject below the pass level
without support, at the group of its newest result; the school unit's, area's and organiser's are read from those
rows (`support.read._below`: a student × subject has one newest result, so one group row, counted once at each level
above).

The apply path wrote four rows per student × subject whose newest result changed (1.18 rows per event of ~7.1 in the
deadline week, the table's upsert ~41 ms of PostgreSQL per batch of 5,000; bench/README.md apply34).

Upgrade: the rows of every other level deleted (the group rows are as they were).
Downgrade: the school unit's, area's (where the school unit is placed in one) and organiser's rows made again from
the group rows, summed per cell as the apply path kept them.

Revision ID: 3d9a6f1c8e25
Revises: 5b8e2d7a4c19
Create Date: 2026-12-06 01:15:00
"""
from alembic import op

revision = '3d9a6f1c8e25'
down_revision = '5b8e2d7a4c19'
branch_labels = None
depends_on = None

#: `results.rules.GROUP_SEPARATOR` as it was here: a group's unit id is its school unit's code, this, and its id
_SEPARATOR = "/"


def upgrade() -> None:
    op.execute("DELETE FROM support_below_pass WHERE level <> 'group'")


def downgrade() -> None:
    school_unit = f"split_part(b.unit_id, '{_SEPARATOR}', 1)"
    op.execute(
        "INSERT INTO support_below_pass (level, unit_id, organiser_id, subject_code, student_id, count) "
        "SELECT u.level, u.unit_id, b.organiser_id, b.subject_code, b.student_id, sum(b.count) "
        f"FROM support_below_pass b LEFT JOIN school_unit_placements p ON p.school_unit_code = {school_unit} "
        f"CROSS JOIN LATERAL (VALUES ('school_unit', {school_unit}), ('area', p.area_id), "
        "('organiser', b.organiser_id)) AS u(level, unit_id) "
        "WHERE b.level = 'group' AND u.unit_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5")
