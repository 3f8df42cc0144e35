"""support interventions and plans: facts and materialised aggregates of six levels

Revision ID: c8d9e0f1a2b3
Revises: 0f7a1c2b3d4e
Create Date: 2026-12-01 05:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'c8d9e0f1a2b3'
down_revision = '0f7a1c2b3d4e'
branch_labels = None
depends_on = None


def _s(name: str, length: int) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=False)


def upgrade() -> None:
    op.create_table('support_facts',
    sa.Column('intervention_id', sa.Uuid(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('retracted', sa.Boolean(), nullable=False),
    _s('organiser_id', 16), _s('school_unit_code', 8), _s('group_id', 64), _s('student_id', 64), _s('kind', 20),
    _s('status', 20), _s('subject_code', 16), _s('start_date', 10), _s('evaluation_date', 10),
    _s('evaluation_outcome', 12),
    sa.PrimaryKeyConstraint('intervention_id'))
    op.create_index(op.f('ix_support_facts_organiser_id'), 'support_facts', ['organiser_id'])
    op.create_index(op.f('ix_support_facts_school_unit_code'), 'support_facts', ['school_unit_code'])
    dims = ('level', 'unit_id', 'organiser_id', 'kind', 'subject_code', 'status', 'evaluation_outcome')
    op.create_table('support_aggregates', *[_s(d, 80) for d in dims],
                    sa.Column('count', sa.Integer(), nullable=False), sa.PrimaryKeyConstraint(*dims))
    op.create_index('ix_support_aggregates_organiser_level', 'support_aggregates', ['organiser_id', 'level'])
    op.create_table('plan_facts',
    sa.Column('plan_id', sa.Uuid(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('retracted', sa.Boolean(), nullable=False),
    _s('organiser_id', 16), _s('school_unit_code', 8), _s('group_id', 64), _s('subject_code', 16),
    _s('school_year', 7), _s('term', 2),
    sa.PrimaryKeyConstraint('plan_id'))
    op.create_index(op.f('ix_plan_facts_organiser_id'), 'plan_facts', ['organiser_id'])
    op.create_index(op.f('ix_plan_facts_school_unit_code'), 'plan_facts', ['school_unit_code'])
    plan_dims = ('level', 'unit_id', 'organiser_id', 'subject_code', 'school_year', 'term')
    op.create_table('plan_aggregates', *[_s(d, 80) for d in plan_dims],
                    sa.Column('count', sa.Integer(), nullable=False), sa.PrimaryKeyConstraint(*plan_dims))
    op.create_index('ix_plan_aggregates_organiser_level', 'plan_aggregates', ['organiser_id', 'level'])


def downgrade() -> None:
    op.drop_index('ix_plan_aggregates_organiser_level', table_name='plan_aggregates')
    op.drop_table('plan_aggregates')
    op.drop_index(op.f('ix_plan_facts_school_unit_code'), table_name='plan_facts')
    op.drop_index(op.f('ix_plan_facts_organiser_id'), table_name='plan_facts')
    op.drop_table('plan_facts')
    op.drop_index('ix_support_aggregates_organiser_level', table_name='support_aggregates')
    op.drop_table('support_aggregates')
    op.drop_index(op.f('ix_support_facts_school_unit_code'), table_name='support_facts')
    op.drop_index(op.f('ix_support_facts_organiser_id'), table_name='support_facts')
    op.drop_table('support_facts')
