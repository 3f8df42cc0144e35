"""batch writes: `Idempotency-Key` (`styrkedja_kit.idempotency.define_key_table`). Per client (with the endpoint) and
key, the hash of the batch it was sent with and, once given, the answer; kept a day.

Revision ID: 2a4c6e8f0b17
Revises: 8d2f4a6c0e13
Create Date: 2026-12-04 23:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '2a4c6e8f0b17'
down_revision = '8d2f4a6c0e13'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'idempotency_keys',
        sa.Column('client', sa.String(length=64), nullable=False),
        sa.Column('idempotency_key', sa.String(length=200), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('status', sa.SmallInteger(), nullable=True),
        sa.Column('answer', sa.LargeBinary(), nullable=True),
        sa.Column('created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('client', 'idempotency_key'),
    )
    op.create_index('ix_idempotency_keys_created', 'idempotency_keys', ['created'])


def downgrade() -> None:
    op.drop_index('ix_idempotency_keys_created', table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
