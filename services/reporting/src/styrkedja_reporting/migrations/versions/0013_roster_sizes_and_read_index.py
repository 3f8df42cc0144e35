"""directory roster sizes: distinct students on the rosters per unit and level, as a step function
over the days (coverage reads a roster as a lookup); filled from the memberships already held.
The results' read index in the order of the read's grouping (no sort per read).

Revision ID: e1f2a3b4c5d6
Revises: d1c0a1e2r0d5
Create Date: 2026-12-03 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e1f2a3b4c5d6'
down_revision = 'd1c0a1e2r0d5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('directory_roster_sizes',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('unit_id', sa.String(length=80), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('students', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('organiser_id', 'level', 'unit_id', 'valid_from'))
    # the sizes of the memberships already held: the service's rebuild statement as it was at this
    # revision, frozen here so a later change to the service cannot change what this migration does
    bind = op.get_bind()
    organisers = [r[0] for r in bind.execute(sa.text("SELECT DISTINCT organiser_id FROM directory_memberships"))]
    if organisers:
        bind.execute(sa.text(_REBUILD_AT_0013), {"organisers": organisers})
    op.create_index('ix_assessment_aggregates_read', 'assessment_aggregates',
                    ['organiser_id', 'level', 'unit_id', 'subject_code', 'school_year', 'term', 'round', 'kind',
                     'scale', 'value'])
    op.drop_index('ix_assessment_aggregates_organiser_level', table_name='assessment_aggregates')


def downgrade() -> None:
    op.create_index('ix_assessment_aggregates_organiser_level', 'assessment_aggregates', ['organiser_id', 'level'])
    op.drop_index('ix_assessment_aggregates_read', table_name='assessment_aggregates')
    op.drop_table('directory_roster_sizes')


_REBUILD_AT_0013 = """
INSERT INTO directory_roster_sizes (organiser_id, level, unit_id, valid_from, valid_to, students) 
WITH m AS (
    SELECT m.organiser_id, lv.level, lv.unit_id, m.student_id,
           COALESCE(m.start_date, DATE '-infinity') AS s, COALESCE(m.end_date, DATE 'infinity') AS e
    FROM directory_memberships m
    LEFT JOIN school_unit_placements p ON p.school_unit_code = m.school_unit_code AND p.area_id IS NOT NULL
    CROSS JOIN LATERAL (VALUES ('group', m.school_unit_code || '/' || m.group_id),
                               ('school_unit', m.school_unit_code), ('area', p.area_id),
                               ('organiser', m.organiser_id)) AS lv(level, unit_id)
    WHERE m.organiser_id = ANY(CAST(:organisers AS text[])) AND NOT m.removed AND lv.unit_id IS NOT NULL
      AND m.student_id IS NOT NULL
), ordered AS (
    SELECT *, max(e) OVER (PARTITION BY organiser_id, level, unit_id, student_id ORDER BY s, e
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_end
    FROM m
), islands AS (
    SELECT *, sum(CASE WHEN before_end IS NOT NULL AND s <= before_end + 1 THEN 0 ELSE 1 END)
              OVER (PARTITION BY organiser_id, level, unit_id, student_id ORDER BY s, e) AS island
    FROM ordered
), merged AS (
    SELECT organiser_id, level, unit_id, min(s) AS s, max(e) AS e
    FROM islands GROUP BY organiser_id, level, unit_id, student_id, island
), changes AS (
    SELECT organiser_id, level, unit_id, day, sum(delta) AS delta FROM (
        SELECT organiser_id, level, unit_id, s AS day, 1 AS delta FROM merged
        UNION ALL
        SELECT organiser_id, level, unit_id, e + 1, -1 FROM merged WHERE e <> DATE 'infinity'
    ) AS c GROUP BY organiser_id, level, unit_id, day
), steps AS (
    SELECT organiser_id, level, unit_id, day AS valid_from,
           lead(day) OVER w - 1 AS valid_to, sum(delta) OVER w AS students
    FROM changes WINDOW w AS (PARTITION BY organiser_id, level, unit_id ORDER BY day)
)
SELECT organiser_id, level, unit_id, valid_from, valid_to, CAST(students AS integer)
FROM steps WHERE students > 0
"""
