"""The fact tables, compliance's round reports and LIKA's self-assessments and action plans keyed by (id, organiser):
a record is identified within its organiser. Keyed by the id alone, an assessment, forecast, intervention or plan
event (or a LIKA plan revision: a self-assessment was dropped as a re-delivery) produced straight to Kafka under
another organiser's id and message key (another partition, consumed in any order) named organiser A's stored fact and
took it over — revised or retracted it and moved it, and A's figures, to the other organiser. Now it is that
organiser's own record; the live apply and the rebuild fold by the same key. The id leads the key: a batch's look-up
by its ids descends the key's index as before (no other index changes).

Downgrade: keyed by the id alone again — refused by PostgreSQL if two organisers hold a record under one id (which
of them to keep is not the migration's to decide: delete one, or rebuild after the downgrade).

Revision ID: a3d7f1b5c9e2
Revises: f9c3e5a7b1d4
Create Date: 2026-12-04 20:00:00
"""
from alembic import op

revision = 'a3d7f1b5c9e2'
down_revision = 'f9c3e5a7b1d4'
branch_labels = None
depends_on = None

#: table → its id column
KEYED = {
    'assessment_facts': 'assessment_id',
    'forecast_facts': 'forecast_id',
    'support_facts': 'intervention_id',
    'plan_facts': 'plan_id',
    'compliance_round_reports': 'assessment_id',
    'lika_self_assessments': 'self_assessment_id',
    'lika_action_plans': 'self_assessment_id',
}


def upgrade() -> None:
    for table, id_column in KEYED.items():
        op.drop_constraint(f'{table}_pkey', table, type_='primary')
        op.create_primary_key(f'{table}_pkey', table, [id_column, 'organiser_id'])


def downgrade() -> None:
    for table, id_column in KEYED.items():
        op.drop_constraint(f'{table}_pkey', table, type_='primary')
        op.create_primary_key(f'{table}_pkey', table, [id_column])
