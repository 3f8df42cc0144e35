"""alerts

Dip alerts keyed by their stable id, the comment history of acknowledgements, and each
organiser's own thresholds (defaults apply until it sets them).

Revision ID: a6e1f2a3b4c5
Revises: 8d2e3f4a5b6c
Create Date: 2026-12-01 05:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'a6e1f2a3b4c5'
down_revision = '8d2e3f4a5b6c'  # the coordinator re-chains at merge
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


def downgrade() -> None:
    op.drop_table('alert_thresholds')
    op.drop_table('alert_comments')
    op.drop_index('ix_alerts_organiser_status', table_name='alerts')
    op.drop_table('alerts')
