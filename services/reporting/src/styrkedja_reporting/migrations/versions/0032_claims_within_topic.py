"""consumer: an applied event is claimed by (event id, organiser, topic). Each topic carries its own event types, so an
event under an id that an event of another topic holds (an assessment event and a support event a hostile or buggy
producer gave one CloudEvents id) is another event. Claimed by (id, organiser), the one read first kept the other out
(a `conflicting_duplicate`), and the live apply (topics read side by side) and the rebuild (another order) kept
different ones: live != rebuild.

The claims made before are of unknown topic (the table never kept it): they get `*` (the kit's `LEGACY_TOPIC`), which
counts for every topic — a re-delivery or a replay of such an event is a duplicate on whichever topic, so nothing is
applied twice after the upgrade. The legacy index now finds the claims of unknown topic (those of unknown organiser,
`*`, are among them); it is empty once a rebuild made the claims again. An event another topic's claim kept out before
the upgrade is applied by a rebuild (the claims are made again from the log, each of its topic).

Downgrade: keyed by (id, organiser) again — refused by PostgreSQL if two topics' claims of one organiser hold one id
(which of them to keep is not the migration's to decide: delete one, or rebuild after the downgrade).

Revision ID: e7a3c5b9d2f1
Revises: ee9188854bff
Create Date: 2026-12-05 06:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e7a3c5b9d2f1'
down_revision = 'ee9188854bff'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the default fills the claims made before (`*`: of unknown topic), then goes: every claim names its own
    op.add_column('consumer_applied_events', sa.Column('topic', sa.String(length=200), nullable=False,
                                                       server_default='*'))
    op.alter_column('consumer_applied_events', 'topic', server_default=None)
    op.drop_constraint('consumer_applied_events_pkey', 'consumer_applied_events', type_='primary')
    op.create_primary_key('consumer_applied_events_pkey', 'consumer_applied_events',
                          ['event_id', 'organiser_id', 'topic'])
    op.drop_index('ix_consumer_applied_events_legacy', table_name='consumer_applied_events',
                  postgresql_where=sa.text("organiser_id = '*'"))
    op.create_index('ix_consumer_applied_events_legacy', 'consumer_applied_events', ['event_id'], unique=False,
                    postgresql_where=sa.text("topic = '*'"))


def downgrade() -> None:
    op.drop_index('ix_consumer_applied_events_legacy', table_name='consumer_applied_events',
                  postgresql_where=sa.text("topic = '*'"))
    op.create_index('ix_consumer_applied_events_legacy', 'consumer_applied_events', ['event_id'], unique=False,
                    postgresql_where=sa.text("organiser_id = '*'"))
    op.drop_constraint('consumer_applied_events_pkey', 'consumer_applied_events', type_='primary')
    op.create_primary_key('consumer_applied_events_pkey', 'consumer_applied_events', ['event_id', 'organiser_id'])
    op.drop_column('consumer_applied_events', 'topic')
