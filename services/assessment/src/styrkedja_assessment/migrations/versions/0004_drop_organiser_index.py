"""drop ix_assessments_organiser_id: the natural key's unique index leads with organiser_id

Nothing reads assessments by organiser alone that the unique index (organiser_id, student_id, …)
cannot serve by its leading column; the extra index cost every stored row one more index insert
(bench/results/write3.json).

Revision ID: 9e2b4d6f8a10
Revises: 7c1f0a3d5e21
Create Date: 2026-12-01 19:30:00
"""
from alembic import op

revision = '9e2b4d6f8a10'
down_revision = '7c1f0a3d5e21'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_assessments_organiser_id', table_name='assessments')


def downgrade() -> None:
    op.create_index('ix_assessments_organiser_id', 'assessments', ['organiser_id'], unique=False)
