"""lean outbox (no unique index on event_id, created_at by BRIN: two index inserts a row, not four), revisions as json

Every outbox row paid four index inserts; two of them earned nothing on the write path:
- `outbox_event_id_key` (unique event_id): event ids are random version-4 UUIDs made by this service,
  never looked up in the outbox; the random keys cost each row a random B-tree page (and its WAL).
  Consumers deduplicate by event id anyway.
- `ix_outbox_created_at` (B-tree): only a replay by time reads it (`styrkedja outbox replay --since`); a
  BRIN index serves that (rows are written in time order) at next to no cost per row.
Kept: the primary key (the relay's order) and `ix_outbox_unpublished` (the relay's read).
And `assessment_revisions.content` as `json`, not `jsonb`: the audit trail is written, never queried by its
content; PostgreSQL still checks the JSON text but builds no binary document (rewrites the table once).
bench/results/write5.json has the before and after.

Revision ID: 5b7d9f1a3c60
Revises: 9e2b4d6f8a10
Create Date: 2026-12-02 01:00:00
"""
from alembic import op

revision = '5b7d9f1a3c60'
down_revision = '9e2b4d6f8a10'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint('outbox_event_id_key', 'outbox', type_='unique')
    op.drop_index('ix_outbox_created_at', table_name='outbox')
    op.create_index('ix_outbox_created_at_brin', 'outbox', ['created_at'], unique=False, postgresql_using='brin')
    op.execute("ALTER TABLE assessment_revisions ALTER COLUMN content TYPE json USING content::json")


def downgrade() -> None:
    op.execute("ALTER TABLE assessment_revisions ALTER COLUMN content TYPE jsonb USING content::jsonb")
    op.drop_index('ix_outbox_created_at_brin', table_name='outbox', postgresql_using='brin')
    op.create_index('ix_outbox_created_at', 'outbox', ['created_at'], unique=False)
    op.create_unique_constraint('outbox_event_id_key', 'outbox', ['event_id'])
