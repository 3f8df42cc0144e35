"""organiser ids stored before one spelling was kept (identity1) rewritten to NNNNNN-NNNN

An organisation number is kept as `NNNNNN-NNNN` (styrkedja_contracts.identifiers.canonical_organiser_id);
rows written before may hold `2120001234`, `162120001234` or `16212000-1234`. Rewritten here: the
`organiser_id` column and `content->>'organiser_id'` of `forecasts`, `organiser_id` of `organiser_calendars`
and `organiser_calendar_revisions` (the calendar JSON holds no organiser), and the message key of outbox rows
not yet published. A kommunkod stays as it is.

Left as written: the audit trail's content (`forecast_revisions.content`, never queried by it), the outbox's
payloads and published rows (a consumer keeps a digest of each applied record's bytes, so other bytes under an
applied event id would be dead-lettered; the decoder reads either spelling), and `forecast_id`: it was derived
from the organiser as sent and is the id the events on the topics carry, so it stays the forecast's id (a
forecast sent again now, without its id, derives another one from the kept spelling: not this migration's to
change).

Collisions: `organiser_calendars` is keyed by the organiser and `organiser_calendar_revisions` by organiser
and revision. One organiser with a calendar in two spellings is refused before anything is written: the
upgrade fails naming the table, the key, the rule `one_row_per_key` and the organisers; delete the calendar
(and its revisions) that does not stand and upgrade again. `forecasts` has no unique key holding the organiser.

Downgrade: nothing. The old spelling is not recoverable (which of the three a row had is not kept) and not
needed: every reader takes any spelling and keeps this one.

Revision ID: 9e3a5b7d1f24
Revises: 6c8e0a2b4d71
Create Date: 2026-12-03 05:15:00
"""
from alembic import op

from styrkedja_kit.migrations import keep_organiser_spelling, keep_organiser_spelling_in_outbox

revision = '9e3a5b7d1f24'
down_revision = '6c8e0a2b4d71'
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    keep_organiser_spelling(connection, 'organiser_calendars', unique_key=(), id_column='organiser_id')
    keep_organiser_spelling(connection, 'organiser_calendar_revisions', unique_key=('revision',),
                            id_column="(organiser_id || '/' || revision)")
    keep_organiser_spelling(connection, 'forecasts', content='content')
    keep_organiser_spelling_in_outbox(connection)


def downgrade() -> None:
    """Nothing: see the module's docstring."""
