"""freshness: one row per topic and partition (apply16). Consumers of different partitions — reporting's replicas,
each the single writer of the partitions the group gave it — note their batches in rows of their own, so that no
batch waits at its last statement for another consumer's commit (a row per topic was updated by every batch of
that topic). The rows there are stay, as partition -1 (`registry.WHOLE_TOPIC`: no one partition's): the reads
take the newest of all rows, and the state version every row.

Downgrade: one row per topic again, each the newest of its partitions' rows.

Revision ID: a7d1e5c9f3b6
Revises: f6c0d4a8b2e5
Create Date: 2026-12-03 12:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'a7d1e5c9f3b6'
down_revision = 'f6c0d4a8b2e5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('freshness', sa.Column('partition', sa.Integer(), server_default='-1', nullable=False))
    op.execute('ALTER TABLE freshness DROP CONSTRAINT freshness_pkey, ADD CONSTRAINT freshness_pkey '
               'PRIMARY KEY (topic, partition)')


def downgrade() -> None:
    op.execute('DELETE FROM freshness f WHERE EXISTS (SELECT 1 FROM freshness g WHERE g.topic = f.topic AND '
               '(g.newest_event_time, g.applied_at, g.partition) > (f.newest_event_time, f.applied_at, f.partition))')
    op.execute('ALTER TABLE freshness DROP CONSTRAINT freshness_pkey, ADD CONSTRAINT freshness_pkey PRIMARY KEY (topic)')
    op.drop_column('freshness', 'partition')
