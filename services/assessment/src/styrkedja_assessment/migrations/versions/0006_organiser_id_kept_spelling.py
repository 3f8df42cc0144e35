"""organiser ids stored before one spelling was kept (identity1) rewritten to NNNNNN-NNNN

An organisation number is kept as `NNNNNN-NNNN` (styrkedja_contracts.identifiers.canonical_organiser_id);
rows written before may hold `2120001234`, `162120001234` or `16212000-1234`. Rewritten here: the
`organiser_id` column and `content->>'organiser_id'` (a revision compares what is sent with it, a retraction's
event is built from it) of `assessments`, `support_interventions` and `plans`, and the message key of outbox
rows not yet published. A kommunkod stays as it is.

Left as written: the audit trail (`*_revisions.content`, what was stored then; never queried by its content)
and the outbox's payloads and published rows (a consumer keeps a digest of each applied record's bytes, so
other bytes under an applied event id would be dead-lettered; the decoder reads either spelling).

Collisions: `organiser_id` leads the natural key of `assessments` (one result per student, subject, kind and
period). Where rows would share it once rewritten, at most one may be live: that one keeps the key and the
retracted rows' current rows are deleted (every revision of theirs stays in `assessment_revisions`, the
retraction included). Two live rows are refused before anything is written: the upgrade fails naming the
table, the key, the rule `one_row_per_key` and the assessments' ids; retract the one that does not stand
(through the API, so that its event reaches reporting) and upgrade again. Support interventions and plans
have no unique key holding the organiser.

Downgrade: nothing. The old spelling is not recoverable (which of the three a row had is not kept) and not
needed: every reader takes any spelling and keeps this one.

Revision ID: 8d2f4a6c0e13
Revises: 5b7d9f1a3c60
Create Date: 2026-12-03 05:15:00
"""
from alembic import op

from styrkedja_kit.migrations import keep_organiser_spelling, keep_organiser_spelling_in_outbox

revision = '8d2f4a6c0e13'
down_revision = '5b7d9f1a3c60'
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    keep_organiser_spelling(connection, 'assessments', content='content',
                            unique_key=('student_id', 'subject_code', 'kind', 'school_year', 'term', 'round'),
                            id_column='assessment_id', removed_column='retracted',
                            order_by='updated_at DESC, revision DESC')
    keep_organiser_spelling(connection, 'support_interventions', content='content')
    keep_organiser_spelling(connection, 'plans', content='content')
    keep_organiser_spelling_in_outbox(connection)


def downgrade() -> None:
    """Nothing: see the module's docstring."""
