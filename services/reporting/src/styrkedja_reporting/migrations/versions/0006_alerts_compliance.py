"""alerts and compliance

Dip alerts keyed by their stable id, the comment history of acknowledgements, and each
organiser's own thresholds (defaults apply until it sets them). Compliance: tracked windows, the
organisers' calendars, expected reports (items) and the additive cells of the lists.

Revision ID: a6e1f2a3b4c5
Revises: 9e3f4a5b6c7d
Create Date: 2026-12-01 05:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'a6e1f2a3b4c5'
down_revision = '9e3f4a5b6c7d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('unit_id', sa.String(length=80), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=True),
    sa.Column('subject_code', sa.String(length=16), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('school_year', sa.String(length=7), nullable=False),
    sa.Column('term', sa.String(length=2), nullable=True),
    sa.Column('round', sa.Integer(), nullable=True),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('episode', sa.Integer(), nullable=False),
    sa.Column('figures', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('resolved_reason', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('alert_id'))
    op.create_index('ix_alerts_organiser_status', 'alerts', ['organiser_id', 'status'], unique=False)
    op.create_table('alert_comments',
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('episode', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('alert_id', 'at'))
    op.create_table('alert_thresholds',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('drop_points', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('below_forecast_points', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('min_students', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('organiser_id'))
    op.create_table('compliance_windows',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('period', sa.String(length=12), nullable=False),
    sa.Column('opens', sa.Date(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('organiser_id', 'kind', 'period'))
    op.create_table('compliance_calendars',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('calendar', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('organiser_id'))
    op.create_table('compliance_items',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('period', sa.String(length=12), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('subject_code', sa.String(length=16), nullable=False),
    sa.Column('student_id', sa.String(length=64), nullable=False),
    sa.Column('teachers', postgresql.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('organiser_id', 'kind', 'period', 'school_unit_code', 'group_id', 'subject_code',
                            'student_id'))
    op.create_table('compliance_cells',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('period', sa.String(length=12), nullable=False),
    sa.Column('cell_kind', sa.String(length=24), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('subject_code', sa.String(length=16), nullable=False),
    sa.Column('teacher_id', sa.String(length=64), nullable=False),
    sa.Column('expected', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.Column('late', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('organiser_id', 'kind', 'period', 'cell_kind', 'school_unit_code', 'group_id',
                            'subject_code', 'teacher_id'))


def downgrade() -> None:
    op.drop_table('compliance_cells')
    op.drop_table('compliance_items')
    op.drop_table('compliance_calendars')
    op.drop_table('compliance_windows')
    op.drop_table('alert_thresholds')
    op.drop_table('alert_comments')
    op.drop_index('ix_alerts_organiser_status', table_name='alerts')
    op.drop_table('alerts')
