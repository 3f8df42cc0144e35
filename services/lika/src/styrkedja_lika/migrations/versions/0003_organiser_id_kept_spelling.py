"""organiser ids stored before one spelling was kept (identity1) rewritten to NNNNNN-NNNN

An organisation number is kept as `NNNNNN-NNNN` (styrkedja_contracts.identifiers.canonical_organiser_id);
rows written before may hold `2120001234`, `162120001234` or `16212000-1234`. Rewritten here:
`self_assessments.organiser_id` (the only column of LIKA's tables that holds an organiser: ratings, action
plans and their items are keyed by the self-assessment) and the message key of outbox rows not yet published.
A kommunkod stays as it is.

Left as written: the outbox's payloads and published rows (a consumer keeps a digest of each applied
record's bytes, so other bytes under an applied event id would be dead-lettered; the decoder reads either
spelling).

Collisions: none possible; no unique key of `self_assessments` holds the organiser (its indexes are for
reads), so one organiser's self-assessments in two spellings simply become one organiser's.

Downgrade: nothing. The old spelling is not recoverable (which of the three a row had is not kept) and not
needed: every reader takes any spelling and keeps this one.

Revision ID: 6f1b3d5e7a92
Revises: 5c2d7a91b0e4
Create Date: 2026-12-03 05:15:00
"""
from alembic import op

from styrkedja_kit.migrations import keep_organiser_spelling, keep_organiser_spelling_in_outbox

revision = '6f1b3d5e7a92'
down_revision = '5c2d7a91b0e4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    keep_organiser_spelling(connection, 'self_assessments')
    keep_organiser_spelling_in_outbox(connection)


def downgrade() -> None:
    """Nothing: see the module's docstring."""
