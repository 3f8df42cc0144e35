"""directory writes: `Idempotency-Key` (`directory/idempotency.py`). Per client and key, the hash of the request it
named and the outcome answered, so that a write sent again after its answer was lost (a timeout, a proxy's 502 after
the commit) is answered as the first time instead of applied twice. Not derived from the event log: kept by a rebuild.

Downgrade: the table dropped (a retry then is applied again, as before: the directory compares content, so a change
sent twice is `unchanged` the second time; only the answer's statuses differ).

Revision ID: d5a7c9e1f3b4
Revises: c3f9a1d5e7b2
Create Date: 2026-12-04 10:45:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'd5a7c9e1f3b4'
down_revision = 'c3f9a1d5e7b2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'directory_idempotency_keys',
        sa.Column('client', sa.String(length=200), nullable=False),
        sa.Column('idempotency_key', sa.String(length=200), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('outcome', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('client', 'idempotency_key'),
    )
    op.create_index('ix_directory_idempotency_keys_created', 'directory_idempotency_keys', ['created'])


def downgrade() -> None:
    op.drop_index('ix_directory_idempotency_keys_created', table_name='directory_idempotency_keys')
    op.drop_table('directory_idempotency_keys')
