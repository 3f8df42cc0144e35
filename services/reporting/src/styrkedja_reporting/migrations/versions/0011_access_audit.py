"""access audit: who read student-level data, where, when

Revision ID: d9e0f1a2b3c4
Revises: 5a9b0c1d2e3f
Create Date: 2026-12-02 09:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'd9e0f1a2b3c4'
down_revision = '5a9b0c1d2e3f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_audit',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=True),
    sa.Column('roles', sa.String(length=255), nullable=False),
    sa.Column('organiser_id', sa.String(length=64), nullable=True),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('what', sa.String(length=500), nullable=False),
    sa.Column('scope', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_access_audit_organiser_at', 'access_audit', ['organiser_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_access_audit_organiser_at', table_name='access_audit')
    op.drop_table('access_audit')
