"""the LIKA tool: drafts and their ratings, final self-assessments, action plans

Revision ID: 5c2d7a91b0e4
Revises: eacf83e69315
Create Date: 2026-12-01 04:10:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '5c2d7a91b0e4'
down_revision = 'eacf83e69315'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # rows stored before the tool were sent in whole, already published
    op.add_column('self_assessments', sa.Column('status', sa.String(length=16), server_default='PUBLISHED',
                                                nullable=False))
    op.add_column('self_assessments', sa.Column('origin', sa.String(length=16), server_default='import',
                                                nullable=False))
    op.add_column('self_assessments', sa.Column('assessed_on', sa.Date(), nullable=True))
    op.add_column('self_assessments', sa.Column('finalised_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('self_assessments', sa.Column('updated_at', sa.DateTime(timezone=True),
                                                server_default=sa.text('now()'), nullable=False))
    op.execute("UPDATE self_assessments SET finalised_at = published_at, updated_at = created_at")
    for column in ('ratings', 'event_id', 'published_at'):
        op.alter_column('self_assessments', column, nullable=True)
    op.create_check_constraint('ck_self_assessments_status', 'self_assessments',
                               "status IN ('DRAFT', 'PRIVATE', 'PUBLISHED')")
    op.create_check_constraint('ck_self_assessments_published', 'self_assessments',
                               "status <> 'PUBLISHED' OR (published_at IS NOT NULL AND event_id IS NOT NULL "
                               "AND ratings IS NOT NULL)")
    op.create_index('ix_self_assessments_unit_created', 'self_assessments',
                    ['organiser_id', 'school_unit_code', 'created_at'], unique=False)
    op.create_table('self_assessment_ratings',
    sa.Column('self_assessment_id', sa.Uuid(), nullable=False),
    sa.Column('indicator_id', sa.String(length=64), nullable=False),
    sa.Column('rating', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['self_assessment_id'], ['self_assessments.self_assessment_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('self_assessment_id', 'indicator_id')
    )
    op.create_table('action_plans',
    sa.Column('self_assessment_id', sa.Uuid(), nullable=False),
    sa.Column('start_term', sa.String(length=16), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['self_assessment_id'], ['self_assessments.self_assessment_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('self_assessment_id')
    )
    op.create_table('action_plan_items',
    sa.Column('self_assessment_id', sa.Uuid(), nullable=False),
    sa.Column('activity_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.String(length=64), nullable=False),
    sa.Column('area', sa.String(length=32), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('current_rating', sa.String(length=16), nullable=False),
    sa.Column('plan_priority', sa.Integer(), nullable=False),
    sa.Column('suggested_term', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('owner', sa.String(length=100), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('tags', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'in_progress', 'done', 'dropped')",
                       name='ck_action_plan_items_status'),
    sa.CheckConstraint('priority BETWEEN 1 AND 3', name='ck_action_plan_items_priority'),
    sa.ForeignKeyConstraint(['self_assessment_id'], ['action_plans.self_assessment_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('self_assessment_id', 'activity_id')
    )


def downgrade() -> None:
    op.drop_table('action_plan_items')
    op.drop_table('action_plans')
    op.drop_table('self_assessment_ratings')
    op.drop_index('ix_self_assessments_unit_created', table_name='self_assessments')
    op.drop_constraint('ck_self_assessments_published', 'self_assessments', type_='check')
    op.drop_constraint('ck_self_assessments_status', 'self_assessments', type_='check')
    op.execute("DELETE FROM self_assessments WHERE status <> 'PUBLISHED'")
    for column in ('ratings', 'event_id', 'published_at'):
        op.alter_column('self_assessments', column, nullable=False)
    for column in ('updated_at', 'finalised_at', 'assessed_on', 'origin', 'status'):
        op.drop_column('self_assessments', column)
