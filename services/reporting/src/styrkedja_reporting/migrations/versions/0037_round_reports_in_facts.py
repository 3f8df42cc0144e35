"""compliance's round reports folded into the assessment facts (rounds33): `assessment_facts.received_at`, the time
the assessment's current run was first reported (`results.rules.run_time`), and `compliance_round_reports` dropped.

The round report was a second row per assessment written by every apply batch (0.94 rows per event of 8, its insert
~53 ms of PostgreSQL per batch of 5,000): what compliance read of it — newest revision, retraction, organiser,
school unit, group, student, subject, school year, round — the fact holds already; only the run's first time was
its own. The column is nullable: a fact stored before compliance's rounds (migration 0012, which filled none) had
no round report and counted in no round's list; with no time it still counts in none.

Upgrade: the column added (no default: no table rewrite), each fact's time copied from its round report (an UPDATE
of every fact that has one: a new version of each row — at national scale 6.4M rows, run it in a quiet hour; a
VACUUM of assessment_facts after gives the old versions' room back), the table dropped.
Downgrade: the table and its index again (keyed by (assessment id, organiser), as 0027 left it), one row per fact
with a time — its place as the fact holds it —, the column dropped.

Revision ID: 5b8e2d7a4c19
Revises: 7c1e5a9d3b62
Create Date: 2026-12-06 00:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '5b8e2d7a4c19'
down_revision = '7c1e5a9d3b62'
branch_labels = None
depends_on = None

_PLACE = ('revision', 'retracted', 'organiser_id', 'school_unit_code', 'group_id', 'student_id', 'subject_code',
          'school_year', 'round', 'received_at')


def upgrade() -> None:
    op.add_column('assessment_facts', sa.Column('received_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE assessment_facts f SET received_at = r.received_at FROM compliance_round_reports r "
               "WHERE f.assessment_id = CAST(r.assessment_id AS uuid) AND f.organiser_id = r.organiser_id")
    op.drop_index('ix_compliance_round_reports_student', table_name='compliance_round_reports')
    op.drop_table('compliance_round_reports')


def downgrade() -> None:
    op.create_table('compliance_round_reports',
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('retracted', sa.Boolean(), nullable=False),
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('student_id', sa.String(length=64), nullable=False),
    sa.Column('subject_code', sa.String(length=16), nullable=False),
    sa.Column('school_year', sa.String(length=7), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('assessment_id', 'organiser_id', name='compliance_round_reports_pkey'))
    op.create_index('ix_compliance_round_reports_student', 'compliance_round_reports',
                    ['organiser_id', 'school_year', 'round', 'student_id'])
    op.execute(f"INSERT INTO compliance_round_reports (assessment_id, {', '.join(_PLACE)}) "
               f"SELECT CAST(assessment_id AS text), {', '.join(_PLACE)} FROM assessment_facts "
               "WHERE received_at IS NOT NULL")
    op.drop_column('assessment_facts', 'received_at')
