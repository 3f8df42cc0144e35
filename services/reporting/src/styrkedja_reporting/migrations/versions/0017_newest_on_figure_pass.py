"""figures: freshness kept on the pass cell — `figure_pass.newest` (the day of the cell's newest result) and
`newest_count` (its results on that day) — instead of `figure_dates` (one row per cell and day: the most rows a
batch wrote, while every read wanted only the newest day). Filled from figure_dates, which is dropped.

Downgrade: figure_dates made again as 0005/0016 made it and filled from the facts (the results per cell and
day, as the consistency check counts them: every level, term and round); the columns dropped.

Revision ID: c3f9a7d2e5b1
Revises: b8e2f6a1c4d9
Create Date: 2026-12-02 07:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'c3f9a7d2e5b1'
down_revision = 'b8e2f6a1c4d9'
branch_labels = None
depends_on = None

CELL = ("level", "unit_id", "organiser_id", "subject_code", "year", "school_year", "period")
_CELL_SQL = ", ".join(CELL)


def upgrade() -> None:
    op.add_column('figure_pass', sa.Column('newest', sa.Date(), nullable=True))
    op.add_column('figure_pass', sa.Column('newest_count', sa.Integer(), nullable=False, server_default='0'))
    on = " AND ".join(f"p.{c} = d.{c}" for c in CELL)
    op.execute(f"UPDATE figure_pass p SET newest = d.day, newest_count = d.count FROM ("
               f"SELECT DISTINCT ON ({_CELL_SQL}) {_CELL_SQL}, day, count FROM figure_dates WHERE count > 0 "
               f"ORDER BY {_CELL_SQL}, day DESC) AS d WHERE {on}")
    op.drop_index('ix_figure_dates_organiser_level', table_name='figure_dates')
    op.drop_table('figure_dates')


def _dates_from_facts() -> str:
    """The results per cell and day from the facts (figures.tables' recomputation at the time of this revision)."""
    unit = {"group": "f.school_unit_code || '/' || f.group_id", "school_unit": "f.school_unit_code",
            "area": "p.area_id", "organiser": "f.organiser_id", "nation": "'SE'"}
    parts = []
    for level, expr in unit.items():
        join = ("JOIN school_unit_placements p ON p.school_unit_code = f.school_unit_code AND p.area_id IS NOT NULL"
                if level == "area" else "")
        for period in ("f.term", "'R' || f.round"):
            parts.append(f"SELECT '{level}', {expr}, f.organiser_id, f.subject_code, f.year, f.school_year, "
                         f"{period}, f.assessed_on, count(*) FROM assessment_facts f {join} "
                         "WHERE NOT f.retracted AND f.assessed_on IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8")
    return " UNION ALL ".join(parts)


def downgrade() -> None:
    op.create_table('figure_dates',
                    *[sa.Column(d, sa.Integer() if d == "year" else sa.String(length=80), nullable=False) for d in CELL],
                    sa.Column('day', sa.Date(), nullable=False), sa.Column('count', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint(*CELL, 'day'))
    op.create_index('ix_figure_dates_organiser_level', 'figure_dates', ['organiser_id', 'level', 'school_year', 'period'])
    op.execute('ALTER TABLE figure_dates SET (fillfactor = 70)')
    op.execute(f"INSERT INTO figure_dates ({_CELL_SQL}, day, count) {_dates_from_facts()}")
    op.drop_column('figure_pass', 'newest_count')
    op.drop_column('figure_pass', 'newest')
