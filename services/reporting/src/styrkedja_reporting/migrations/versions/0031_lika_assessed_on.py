"""lika_self_assessments: `assessed_on`, the day a self-assessment was made, which names the school year it is about
(the compilation over time grouped by the school year of `published_at`: assessed 30 June, published 1 July counted
in the next school year, while the LIKA tool lists it by its day). Sent in `lika.self_assessment_published.v1` from
now on (an optional field); NULL for the events stored before, which fall back to the day of `published_at` in
Sweden — as a rebuild of the same events does.

Downgrade: the column dropped (the school year by `published_at` again).

Revision ID: ee9188854bff
Revises: d4d550d83cca
Create Date: 2026-12-05 05:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'ee9188854bff'
down_revision = 'd4d550d83cca'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('lika_self_assessments', sa.Column('assessed_on', sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column('lika_self_assessments', 'assessed_on')
