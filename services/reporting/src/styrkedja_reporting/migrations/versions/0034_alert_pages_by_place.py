"""alerts: the list's order (changed_at DESC, alert_id) within each place a reader pages by — the organiser, a school
unit of it, a level's unit id (a group's, an area's) — so that a page of `GET /v1/alerts` is an index scan per place
reading `limit` rows (`alerts.queries.list_alerts`). Without them PostgreSQL read and sorted every alert of the
reader's places for each page: a principal's page of a unit of 50,000 alerts 40 ms, a teacher's 18 ms
(bench/README.md, alertidx31). Each alert written pays three more index entries (five indexes, not two).

Downgrade: the indexes dropped (the pages read the same rows, sorting them again).

Revision ID: 9360002d9d7b
Revises: 3c8f1e6a2b7d
Create Date: 2026-12-05 17:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '9360002d9d7b'
down_revision = '3c8f1e6a2b7d'
branch_labels = None
depends_on = None

_NEWEST = [sa.text('changed_at DESC'), 'alert_id']


def upgrade() -> None:
    op.create_index('ix_alerts_organiser_newest', 'alerts', ['organiser_id', *_NEWEST], unique=False)
    op.create_index('ix_alerts_school_unit_newest', 'alerts', ['organiser_id', 'school_unit_code', *_NEWEST],
                    unique=False)
    op.create_index('ix_alerts_unit_newest', 'alerts', ['organiser_id', 'level', 'unit_id', *_NEWEST],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_alerts_unit_newest', table_name='alerts')
    op.drop_index('ix_alerts_school_unit_newest', table_name='alerts')
    op.drop_index('ix_alerts_organiser_newest', table_name='alerts')
