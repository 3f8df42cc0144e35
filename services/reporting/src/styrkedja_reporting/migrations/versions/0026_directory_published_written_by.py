"""directory_published: `written_by`, the client that last sent each entity (the token's client id, else its subject),
and an index for one client's entities of an organiser in key order. `GET /v1/directory/held` listed every platform
client the keys and source ids of its organiser's whole directory (round 23a); it now lists a platform client what it
wrote, and the organiser admin all of its organiser's.

Rows written before this revision have no writer (NULL): which client sent them is not known (the audit trail names
requests, not entities), so they are listed to the organiser admin only — no platform is shown another's keys on a
guess. A client that sends such an entity again (a full import sends everything it has, `unchanged` or not) is
recorded as its writer then, and lists it from then on.

Downgrade: the index and the column dropped (every platform client of an organiser lists all its entities again).

Revision ID: f9c3e5a7b1d4
Revises: e7b1d3f5a9c2
Create Date: 2026-12-04 17:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'f9c3e5a7b1d4'
down_revision = 'e7b1d3f5a9c2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('directory_published', sa.Column('written_by', sa.String(length=255), nullable=True))
    op.create_index('ix_directory_published_writer', 'directory_published',
                    ['organiser_id', 'written_by', 'entity_key'])


def downgrade() -> None:
    op.drop_index('ix_directory_published_writer', table_name='directory_published')
    op.drop_column('directory_published', 'written_by')
