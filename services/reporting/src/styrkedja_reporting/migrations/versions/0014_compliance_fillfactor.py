"""compliance: items and cells keep room on their pages (fillfactor 70) so the per-batch updates in
place are heap-only (HOT: no new index entries); existing pages get the room as they are rewritten.

Revision ID: f2a3b4c5d6e7
Revises: e1f2a3b4c5d6
Create Date: 2026-12-01 17:10:00
"""
from alembic import op

revision = 'f2a3b4c5d6e7'
down_revision = 'e1f2a3b4c5d6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('compliance_items', 'compliance_cells'):
        op.execute(f'ALTER TABLE {table} SET (fillfactor = 70)')


def downgrade() -> None:
    for table in ('compliance_items', 'compliance_cells'):
        op.execute(f'ALTER TABLE {table} RESET (fillfactor)')
