"""compliance: assessment rounds with a deadline, incremental apply (indexes, assignment scope)

Revision ID: d1c0a1e2r0d5
Revises: d9e0f1a2b3c4
Create Date: 2026-12-01 10:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'd1c0a1e2r0d5'
down_revision = 'd9e0f1a2b3c4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('compliance_round_reports',
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('retracted', sa.Boolean(), nullable=False),
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('student_id', sa.String(length=64), nullable=False),
    sa.Column('subject_code', sa.String(length=16), nullable=False),
    sa.Column('school_year', sa.String(length=7), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('assessment_id'))
    op.create_index('ix_compliance_round_reports_student', 'compliance_round_reports',
                    ['organiser_id', 'school_year', 'round', 'student_id'])
    op.create_table('compliance_assignment_scope',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('assignment_id', sa.String(length=64), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('subject_code', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('organiser_id', 'assignment_id'))
    op.create_index('ix_compliance_items_student', 'compliance_items',
                    ['organiser_id', 'kind', 'period', 'student_id'])
    op.create_index('ix_directory_memberships_student', 'directory_memberships', ['organiser_id', 'student_id'])


def downgrade() -> None:
    op.drop_index('ix_directory_memberships_student', table_name='directory_memberships')
    op.drop_index('ix_compliance_items_student', table_name='compliance_items')
    op.drop_table('compliance_assignment_scope')
    op.drop_index('ix_compliance_round_reports_student', table_name='compliance_round_reports')
    op.drop_table('compliance_round_reports')
