"""alerts: the list's order (changed_at DESC, alert_id) within each place a reader pages by — the organiser, a school
unit of it, a level's unit id (a group's, an area's) — so that a page of `GET /v1/alerts` is an index scan per place
reading `limit` rows (`alerts.queries.list_alerts`). Without them PostgreSQL read and sorted every alert of the
reader's places for each page: a principal's page of a unit of 50,000 alerts 40 ms, a teacher's 18 ms
(bench/README.md, alertidx31). Each alert written pays three more index entries (five indexes, not two).

Built CONCURRENTLY (ops32): a plain CREATE INDEX holds a SHARE lock on alerts for the whole build, and every
apply batch that writes an alert waits behind it — on a big alerts table the consumer stalls for the build.
CONCURRENTLY takes SHARE UPDATE EXCLUSIVE, which writes do not conflict with; it cannot run inside a transaction,
so the indexes are built in an autocommit block: the migrations before this one are committed first (Alembic's
documented behaviour), and this revision is stamped in a transaction of its own after the builds. A build stopped
half-way (the process killed, a cancel) leaves an INVALID index under the name, which IF NOT EXISTS would keep and
the planner never uses: such an index is dropped and built again; a valid one (a run that built them and died
before the stamp) is kept. Each build waits (PostgreSQL's rule for CONCURRENTLY) for the transactions open on alerts
when it starts, and before it ends for every transaction of the database older than its scan (a rebuild's long read,
say): an open transaction holds the migration, not the writers.

Downgrade: the indexes dropped, CONCURRENTLY as well (a plain DROP INDEX takes ACCESS EXCLUSIVE on alerts: reads
wait too); the pages read the same rows, sorting them again.

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
_INDEXES = {
    'ix_alerts_organiser_newest': ['organiser_id', *_NEWEST],
    'ix_alerts_school_unit_newest': ['organiser_id', 'school_unit_code', *_NEWEST],
    'ix_alerts_unit_newest': ['organiser_id', 'level', 'unit_id', *_NEWEST],
}


def _invalid(name: str) -> bool:
    """An index of this name where the unqualified name resolves (the search path's first schema: where
    create_index puts it) that a stopped build left unusable."""
    return bool(op.get_bind().execute(sa.text(
        'SELECT NOT (indisvalid AND indisready) FROM pg_index WHERE indexrelid = to_regclass(:name)'),
        {'name': name}).scalar())


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, columns in _INDEXES.items():
            if _invalid(name):
                op.drop_index(name, table_name='alerts', postgresql_concurrently=True, if_exists=True)
            op.create_index(name, 'alerts', columns, unique=False, postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name in reversed(_INDEXES):
            op.drop_index(name, table_name='alerts', postgresql_concurrently=True, if_exists=True)
