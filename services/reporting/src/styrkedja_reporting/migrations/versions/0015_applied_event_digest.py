"""consumer: each applied event id keeps a digest of its record's bytes, so that another event under
an applied id (other content) is dead-lettered instead of passing for a re-delivery. Nullable: ids
recorded before have none, and are not compared.

Revision ID: a7d1e5c0f3b2
Revises: f2a3b4c5d6e7
Create Date: 2026-12-01 19:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'a7d1e5c0f3b2'
down_revision = 'f2a3b4c5d6e7'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('consumer_applied_events', sa.Column('digest', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column('consumer_applied_events', 'digest')
