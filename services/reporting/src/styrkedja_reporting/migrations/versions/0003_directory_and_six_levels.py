"""directory and six levels

The organisation directory (units, memberships, teaching assignments, duties, placements),
freshness, and aggregates at six levels (the student level is read from the facts) with group
ids scoped by school unit: the aggregates
are rebuilt from the facts (no school unit is placed in an area yet; the directory events,
replayed or new, place them).

Revision ID: 7c1d2e3f4a5b
Revises: 3e387d6c9cc9
Create Date: 2026-12-01 04:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '7c1d2e3f4a5b'
down_revision = '3e387d6c9cc9'
branch_labels = None
depends_on = None

A_STR = ('level', 'unit_id', 'organiser_id', 'subject_code', 'school_year', 'term', 'kind', 'scale', 'gender',
         'value')
F_STR = ('level', 'unit_id', 'organiser_id', 'subject_code', 'school_year', 'term', 'gender', 'value')


def _recomputed(facts: str, hidden: str, dims: str) -> str:
    units = {"group": "school_unit_code || '/' || group_id",
             "school_unit": "school_unit_code", "organiser": "organiser_id", "nation": "'SE'"}
    return " UNION ALL ".join(
        f"SELECT '{level}', {unit}, {dims}, count(*) FROM {facts} WHERE NOT {hidden} GROUP BY 2, {dims}"
        for level, unit in units.items())


def upgrade() -> None:
    for name in A_STR:
        op.alter_column('assessment_aggregates', name, type_=sa.String(length=80), existing_nullable=False)
    for name in F_STR:
        op.alter_column('forecast_aggregates', name, type_=sa.String(length=80), existing_nullable=False)
    op.create_index(op.f('ix_assessment_facts_school_unit_code'), 'assessment_facts', ['school_unit_code'])
    op.create_index(op.f('ix_forecast_facts_school_unit_code'), 'forecast_facts', ['school_unit_code'])
    op.create_table('freshness',
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('newest_event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('topic'))
    op.create_table('directory_units',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('unit_type', sa.String(length=16), nullable=False),
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.Column('parent_id', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('school_unit_code', sa.String(length=8), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('roster_size', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('organiser_id', 'unit_type', 'scope', 'unit_id'))
    op.create_index('ix_directory_units_parent', 'directory_units', ['organiser_id', 'parent_id'])
    op.create_index('ix_directory_units_school_unit_code', 'directory_units', ['school_unit_code'])
    op.create_table('directory_memberships',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('membership_id', sa.String(length=64), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=True),
    sa.Column('group_id', sa.String(length=64), nullable=True),
    sa.Column('student_id', sa.String(length=64), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('organiser_id', 'membership_id'))
    op.create_index('ix_directory_memberships_group', 'directory_memberships', ['school_unit_code', 'group_id'])
    op.create_table('directory_teaching_assignments',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('assignment_id', sa.String(length=64), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=True),
    sa.Column('group_id', sa.String(length=64), nullable=True),
    sa.Column('teacher_id', sa.String(length=64), nullable=True),
    sa.Column('subject_code', sa.String(length=16), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('organiser_id', 'assignment_id'))
    op.create_index('ix_directory_teaching_assignments_group', 'directory_teaching_assignments',
                    ['school_unit_code', 'group_id'])
    op.create_table('directory_duties',
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('duty_id', sa.String(length=64), nullable=False),
    sa.Column('school_unit_code', sa.String(length=8), nullable=True),
    sa.Column('person_id', sa.String(length=64), nullable=True),
    sa.Column('duty_role', sa.String(length=64), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('organiser_id', 'duty_id'))
    op.create_table('school_unit_placements',
    sa.Column('school_unit_code', sa.String(length=8), nullable=False),
    sa.Column('organiser_id', sa.String(length=16), nullable=False),
    sa.Column('area_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('school_unit_code'))
    a_dims = "organiser_id, subject_code, school_year, term, round, kind, scale, year, gender, value"
    f_dims = "organiser_id, subject_code, school_year, term, year, gender, value, late"
    op.execute("DELETE FROM assessment_aggregates")
    op.execute(f"INSERT INTO assessment_aggregates (level, unit_id, {a_dims}, count) "
               + _recomputed("assessment_facts", "retracted", a_dims))
    op.execute("DELETE FROM forecast_aggregates")
    op.execute(f"INSERT INTO forecast_aggregates (level, unit_id, {f_dims}, count) "
               + _recomputed("forecast_facts", "withdrawn", f_dims))


def downgrade() -> None:
    op.drop_table('school_unit_placements')
    op.drop_table('directory_duties')
    op.drop_index('ix_directory_teaching_assignments_group', table_name='directory_teaching_assignments')
    op.drop_table('directory_teaching_assignments')
    op.drop_index('ix_directory_memberships_group', table_name='directory_memberships')
    op.drop_table('directory_memberships')
    op.drop_index('ix_directory_units_school_unit_code', table_name='directory_units')
    op.drop_index('ix_directory_units_parent', table_name='directory_units')
    op.drop_table('directory_units')
    op.drop_table('freshness')
    op.drop_index(op.f('ix_forecast_facts_school_unit_code'), table_name='forecast_facts')
    op.drop_index(op.f('ix_assessment_facts_school_unit_code'), table_name='assessment_facts')
    # the old three levels with unscoped group ids cannot be told apart again: start from the facts
    op.execute("DELETE FROM assessment_aggregates")
    op.execute("DELETE FROM forecast_aggregates")
    for name in F_STR:
        op.alter_column('forecast_aggregates', name, type_=sa.String(length=64), existing_nullable=False)
    for name in A_STR:
        op.alter_column('assessment_aggregates', name, type_=sa.String(length=64), existing_nullable=False)
