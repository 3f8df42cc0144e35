"""aggregates: the key of `assessment_aggregates` and `forecast_aggregates` in the order the reads want it (led by
organiser and level, as their read indexes were), and the read indexes dropped: a new cell (most of a batch's
rows) writes one wide index entry instead of two. The same rows; only the key's column order changes.

Downgrade: the keys in the dimensions' order again and the read indexes made as 0013 and 0002 made them.

Revision ID: d4a8b2e6f0c3
Revises: c3f9a7d2e5b1
Create Date: 2026-12-02 15:20:00
"""
from alembic import op

revision = 'd4a8b2e6f0c3'
down_revision = 'c3f9a7d2e5b1'
branch_labels = None
depends_on = None

ASSESSMENT_KEY = ('organiser_id', 'level', 'unit_id', 'subject_code', 'school_year', 'term', 'round', 'kind', 'scale',
                  'value', 'year', 'gender')
ASSESSMENT_KEY_BEFORE = ('level', 'unit_id', 'organiser_id', 'subject_code', 'school_year', 'term', 'round', 'kind',
                         'scale', 'year', 'gender', 'value')
FORECAST_KEY = ('organiser_id', 'level', 'unit_id', 'subject_code', 'school_year', 'term', 'year', 'gender', 'value',
                'late')
FORECAST_KEY_BEFORE = ('level', 'unit_id', 'organiser_id', 'subject_code', 'school_year', 'term', 'year', 'gender',
                       'value', 'late')


def _rekey(table: str, key: tuple[str, ...]) -> None:
    op.execute(f'ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, '
               f'ADD CONSTRAINT {table}_pkey PRIMARY KEY ({", ".join(key)})')


def upgrade() -> None:
    _rekey('assessment_aggregates', ASSESSMENT_KEY)
    op.drop_index('ix_assessment_aggregates_read', table_name='assessment_aggregates')
    _rekey('forecast_aggregates', FORECAST_KEY)
    op.drop_index('ix_forecast_aggregates_organiser_level', table_name='forecast_aggregates')


def downgrade() -> None:
    _rekey('assessment_aggregates', ASSESSMENT_KEY_BEFORE)
    op.create_index('ix_assessment_aggregates_read', 'assessment_aggregates',
                    ['organiser_id', 'level', 'unit_id', 'subject_code', 'school_year', 'term', 'round', 'kind',
                     'scale', 'value'])
    _rekey('forecast_aggregates', FORECAST_KEY_BEFORE)
    op.create_index('ix_forecast_aggregates_organiser_level', 'forecast_aggregates', ['organiser_id', 'level'])
