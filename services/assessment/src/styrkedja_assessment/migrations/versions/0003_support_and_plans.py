"""support interventions (stödinsatser) and plan metadata (planeringar)

Revision ID: 7c1f0a3d5e21
Revises: 5b7e1c2a9f30
Create Date: 2026-12-01 05:30:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '7c1f0a3d5e21'
down_revision = '5b7e1c2a9f30'
branch_labels = None
depends_on = None


def _revisions(name: str, id_column: str) -> None:
    op.create_table(name,
    sa.Column(id_column, sa.Uuid(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('retraction', sa.Boolean(), nullable=False),
    sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint(id_column, 'revision'))


def upgrade() -> None:
    op.create_table('support_interventions',
    sa.Column('intervention_id', sa.Uuid(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('retracted', sa.Boolean(), nullable=False),
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('student_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('subject_code', sa.String(length=16), nullable=True),
    sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('intervention_id'))
    op.create_index(op.f('ix_support_interventions_organiser_id'), 'support_interventions', ['organiser_id'])
    op.create_index(op.f('ix_support_interventions_student_id'), 'support_interventions', ['student_id'])
    _revisions('support_intervention_revisions', 'intervention_id')
    op.create_table('plans',
    sa.Column('plan_id', sa.Uuid(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('retracted', sa.Boolean(), nullable=False),
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('subject_code', sa.String(length=16), nullable=False),
    sa.Column('school_year', sa.String(length=7), nullable=False),
    sa.Column('term', sa.String(length=2), nullable=False),
    sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('plan_id'))
    op.create_index(op.f('ix_plans_organiser_id'), 'plans', ['organiser_id'])
    _revisions('plan_revisions', 'plan_id')


def downgrade() -> None:
    op.drop_table('plan_revisions')
    op.drop_index(op.f('ix_plans_organiser_id'), table_name='plans')
    op.drop_table('plans')
    op.drop_table('support_intervention_revisions')
    op.drop_index(op.f('ix_support_interventions_student_id'), table_name='support_interventions')
    op.drop_index(op.f('ix_support_interventions_organiser_id'), table_name='support_interventions')
    op.drop_table('support_interventions')
