"""access audit: each read named by a random `ref`, for the trail's page cursor

The cursor named a page's last read by its moment and how many of the organiser's reads at that moment were left,
counted again on the next page (not by its id: the table's one sequence counts every organiser's reads). A read whose
transaction started at the same microsecond and took a smaller id, committed between two pages, was among those
counted: the next page started one read late, and one was skipped. A random ref names the read whatever commits
since, and counts nothing. Existing reads get one each (the table is rewritten once).

Downgrade: the column dropped (a cursor written since is then no cursor of the trail's: 422 naming `after`).

Revision ID: 3c8f1e6a2b7d
Revises: e7a3c5b9d2f1
Create Date: 2026-12-05 17:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '3c8f1e6a2b7d'
down_revision = 'e7a3c5b9d2f1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('access_audit', sa.Column('ref', sa.Uuid(), server_default=sa.text('gen_random_uuid()'),
                                            nullable=False))


def downgrade() -> None:
    op.drop_column('access_audit', 'ref')
