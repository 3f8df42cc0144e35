"""the term is part of the natural key: VT round 1 and HT round 1 are different periods

Revision ID: 5b7e1c2a9f30
Revises: d4dc504a1fa4
Create Date: 2026-12-01 04:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '5b7e1c2a9f30'
down_revision = 'd4dc504a1fa4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('assessments', sa.Column('term', sa.String(length=2), nullable=True))
    op.execute("UPDATE assessments SET term = content->>'term'")
    op.alter_column('assessments', 'term', nullable=False)
    op.drop_index('uq_assessments_natural_key', table_name='assessments')
    op.create_index('uq_assessments_natural_key', 'assessments',
                    ['organiser_id', 'student_id', 'subject_code', 'kind', 'school_year', 'term', 'round'],
                    unique=True)


def downgrade() -> None:
    op.drop_index('uq_assessments_natural_key', table_name='assessments')
    op.create_index('uq_assessments_natural_key', 'assessments',
                    ['organiser_id', 'student_id', 'subject_code', 'kind', 'school_year', 'round'], unique=True)
    op.drop_column('assessments', 'term')
