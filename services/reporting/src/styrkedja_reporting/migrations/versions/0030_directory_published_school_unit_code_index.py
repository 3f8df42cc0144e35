"""directory_published: an index on `school_unit_code` (the rows that have one). Every directory write with school
units checks that no other organiser's directory holds their codes (`directory.writes`, `school_unit_code_held`):
one lookup of the batch's codes, which without an index read the whole table — every organiser's directory — per
batch.

Downgrade: the index dropped (the check scans again).

Revision ID: d4d550d83cca
Revises: d4f9b2c7e1a8
Create Date: 2026-12-05 05:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'd4d550d83cca'
down_revision = 'd4f9b2c7e1a8'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_directory_published_school_unit_code', 'directory_published', ['school_unit_code'],
                    postgresql_where=sa.text('school_unit_code IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_directory_published_school_unit_code', table_name='directory_published',
                  postgresql_where=sa.text('school_unit_code IS NOT NULL'))
