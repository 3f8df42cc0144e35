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
    # the sizes of the memberships already held, by the service's own statement (one source of the rule)
    from styrkedja_reporting.directory.rosters import rebuild_statement
    bind = op.get_bind()
    organisers = [r[0] for r in bind.execute(sa.text("SELECT DISTINCT organiser_id FROM directory_memberships"))]
    if organisers:
        bind.execute(rebuild_statement(), {"organisers": organisers})
    op.create_index('ix_assessment_aggregates_read', 'assessment_aggregates',
                    ['organiser_id', 'level', 'unit_id', 'subject_code', 'school_year', 'term', 'round', 'kind',
                     'scale', 'value'])
    op.drop_index('ix_assessment_aggregates_organiser_level', table_name='assessment_aggregates')


def downgrade() -> None:
    op.create_index('ix_assessment_aggregates_organiser_level', 'assessment_aggregates', ['organiser_id', 'level'])
    op.drop_index('ix_assessment_aggregates_read', table_name='assessment_aggregates')
    op.drop_table('directory_roster_sizes')
