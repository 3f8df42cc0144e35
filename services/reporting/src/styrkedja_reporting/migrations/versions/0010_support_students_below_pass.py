"""support figures materialised: per-student support rows and below the pass level without support

Revision ID: 5a9b0c1d2e3f
Revises: 5c0e7a9d2b14
Create Date: 2026-12-02 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '5a9b0c1d2e3f'
down_revision = '5c0e7a9d2b14'
branch_labels = None
depends_on = None

STUDENT_DIMS = ('level', 'unit_id', 'organiser_id', 'kind', 'subject_code', 'status', 'evaluation_outcome',
                'start_date', 'student_id')
BELOW_DIMS = ('level', 'unit_id', 'organiser_id', 'subject_code', 'student_id')


def _s(name: str) -> sa.Column:
    return sa.Column(name, sa.String(length=80), nullable=False)


def upgrade() -> None:
    # filled by a rebuild (replay) of styrkedja.support and styrkedja.assessments
    op.create_table('support_students', *[_s(d) for d in STUDENT_DIMS],
                    sa.Column('count', sa.Integer(), nullable=False), sa.PrimaryKeyConstraint(*STUDENT_DIMS))
    op.create_index('ix_support_students_organiser_level_unit', 'support_students',
                    ['organiser_id', 'level', 'unit_id'])
    op.create_table('support_below_pass', *[_s(d) for d in BELOW_DIMS],
                    sa.Column('count', sa.Integer(), nullable=False), sa.PrimaryKeyConstraint(*BELOW_DIMS))
    op.create_index('ix_support_below_pass_organiser_level_unit', 'support_below_pass',
                    ['organiser_id', 'level', 'unit_id'])


def downgrade() -> None:
    op.drop_index('ix_support_below_pass_organiser_level_unit', table_name='support_below_pass')
    op.drop_table('support_below_pass')
    op.drop_index('ix_support_students_organiser_level_unit', table_name='support_students')
    op.drop_table('support_students')
