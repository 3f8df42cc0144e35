"""reporting calendar (årshjul) per organiser

Revision ID: a1c3e5f7b9d2
Revises: 7754c82ba720
Create Date: 2026-12-01 10:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'a1c3e5f7b9d2'
down_revision = '7754c82ba720'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('organiser_calendars',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('calendar', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('organiser_id')
    )
    op.create_table('organiser_calendar_revisions',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('calendar', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('changed_by', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('organiser_id', 'revision')
    )


def downgrade() -> None:
    op.drop_table('organiser_calendar_revisions')
    op.drop_table('organiser_calendars')
