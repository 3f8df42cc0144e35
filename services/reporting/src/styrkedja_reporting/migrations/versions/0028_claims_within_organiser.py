"""consumer: an applied event is claimed by (event id, organiser: the record's message key), so an event id is unique
within its organiser only. Claimed by the id alone, organiser B's event sent on its own partition under A's event id
(ids are visible to every reader of the topic) kept A's event from being applied (the first consumed won, the other
was dead-lettered as a `conflicting_duplicate`), and which one won depended on the order the partitions were read in:
a rebuild could differ from the live apply.

The claims made before are of unknown organiser (the table never kept it): they get `*` (the kit's
`LEGACY_ORGANISER`), which counts for every organiser — a re-delivery of such an event is a duplicate whatever its
key — and a partial index finds them by id (empty once a rebuild made the claims again).

Downgrade: keyed by the id alone again — refused by PostgreSQL if two organisers hold a claim under one id (which of
them to keep is not the migration's to decide: delete one, or rebuild after the downgrade).

Revision ID: c8e2a4f6b0d3
Revises: a3d7f1b5c9e2
Create Date: 2026-12-04 21:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'c8e2a4f6b0d3'
down_revision = 'a3d7f1b5c9e2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the default fills the claims made before (`*`: of unknown organiser), then goes: every claim names its own
    op.add_column('consumer_applied_events', sa.Column('organiser_id', sa.String(), nullable=False,
                                                       server_default='*'))
    op.alter_column('consumer_applied_events', 'organiser_id', server_default=None)
    op.drop_constraint('consumer_applied_events_pkey', 'consumer_applied_events', type_='primary')
    op.create_primary_key('consumer_applied_events_pkey', 'consumer_applied_events', ['event_id', 'organiser_id'])
    op.create_index('ix_consumer_applied_events_legacy', 'consumer_applied_events', ['event_id'], unique=False,
                    postgresql_where=sa.text("organiser_id = '*'"))


def downgrade() -> None:
    op.drop_index('ix_consumer_applied_events_legacy', table_name='consumer_applied_events',
                  postgresql_where=sa.text("organiser_id = '*'"))
    op.drop_constraint('consumer_applied_events_pkey', 'consumer_applied_events', type_='primary')
    op.create_primary_key('consumer_applied_events_pkey', 'consumer_applied_events', ['event_id'])
    op.drop_column('consumer_applied_events', 'organiser_id')
