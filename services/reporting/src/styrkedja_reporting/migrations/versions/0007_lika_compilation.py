"""lika compilation

LIKA data keyed by organiser + school unit: every published self-assessment (the compilation
over time needs the older ones) and the newest revision of each action plan. The newest
self-assessment per unit is now a read of `lika_self_assessments`: the rows of `lika_latest` are
carried over, then it is dropped.

Revision ID: 0f7a1c2b3d4e
Revises: a6e1f2a3b4c5
Create Date: 2026-12-01 05:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0f7a1c2b3d4e'
down_revision = 'a6e1f2a3b4c5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lika_self_assessments',
    sa.Column('self_assessment_id', sa.Uuid(), nullable=False),
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=False),
    sa.Column('school_form', sa.String(length=20), nullable=False),
    sa.Column('respondent_role', sa.String(length=20), nullable=False),
    sa.Column('catalogue_version', sa.String(length=32), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ratings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('self_assessment_id'))
    op.create_index('ix_lika_self_assessments_unit', 'lika_self_assessments', ['organiser_id', 'school_unit_code'],
                    unique=False)
    op.create_table('lika_action_plans',
    sa.Column('self_assessment_id', sa.Uuid(), nullable=False),
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=False),
    sa.Column('school_form', sa.String(length=20), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('items', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('self_assessment_id'))
    op.create_index('ix_lika_action_plans_unit', 'lika_action_plans', ['organiser_id', 'school_unit_code'],
                    unique=False)
    op.execute(
        "INSERT INTO lika_self_assessments (self_assessment_id, organiser_id, school_unit_code, school_form, "
        "respondent_role, catalogue_version, published_at, ratings) "
        "SELECT self_assessment_id, organiser_id, school_unit_code, school_form, respondent_role, "
        "catalogue_version, published_at, ratings FROM lika_latest ON CONFLICT DO NOTHING")
    op.drop_index(op.f('ix_lika_latest_organiser_id'), table_name='lika_latest')
    op.drop_table('lika_latest')


def downgrade() -> None:
    op.create_table('lika_latest',
    sa.Column('school_unit_code', sa.String(length=8), nullable=False),
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('self_assessment_id', sa.Uuid(), nullable=False),
    sa.Column('school_form', sa.String(length=20), nullable=False),
    sa.Column('respondent_role', sa.String(length=20), nullable=False),
    sa.Column('catalogue_version', sa.String(length=32), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ratings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('school_unit_code'))
    op.create_index(op.f('ix_lika_latest_organiser_id'), 'lika_latest', ['organiser_id'], unique=False)
    # the newest per school unit, as before (several organisers' rows for one code: the newest wins)
    op.execute(
        "INSERT INTO lika_latest SELECT DISTINCT ON (school_unit_code) school_unit_code, organiser_id, "
        "self_assessment_id, school_form, respondent_role, catalogue_version, published_at, ratings "
        "FROM lika_self_assessments ORDER BY school_unit_code, published_at DESC, self_assessment_id DESC")
    op.drop_index('ix_lika_action_plans_unit', table_name='lika_action_plans')
    op.drop_table('lika_action_plans')
    op.drop_index('ix_lika_self_assessments_unit', table_name='lika_self_assessments')
    op.drop_table('lika_self_assessments')
