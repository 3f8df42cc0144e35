"""directory outbox

Reporting publishes the organisation events (the directory write API and the SS 12000 import):
its own outbox, and what it last published per directory entity.

Revision ID: 8d2e3f4a5b6c
Revises: 7c1d2e3f4a5b
Create Date: 2026-12-01 05:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '8d2e3f4a5b6c'
down_revision = '7c1d2e3f4a5b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('key', sa.LargeBinary(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id'))
    op.create_index('ix_outbox_created_at', 'outbox', ['created_at'], unique=False)
    op.create_index('ix_outbox_unpublished', 'outbox', ['id'], unique=False,
                    postgresql_where=sa.text('published_at IS NULL'))
    op.create_table('outbox_partition_marks',
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('highest_offset', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('topic', 'partition'))
    op.create_table('directory_published',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('entity_key', sa.String(length=200), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('unit_type', sa.String(length=16), nullable=True),
    sa.Column('school_unit_code', sa.String(length=8), nullable=True),
    sa.PrimaryKeyConstraint('organiser_id', 'entity_key'))
    op.create_index('ix_directory_published_source_id', 'directory_published', ['source_id'])


def downgrade() -> None:
    op.drop_index('ix_directory_published_source_id', table_name='directory_published')
    op.drop_table('directory_published')
    op.drop_table('outbox_partition_marks')
    op.drop_index('ix_outbox_unpublished', table_name='outbox', postgresql_where=sa.text('published_at IS NULL'))
    op.drop_index('ix_outbox_created_at', table_name='outbox')
    op.drop_table('outbox')
