"""The organisation directory: units (huvudman → verksamhetsområde → skolenhet → grupp),
group memberships (rosters), teaching assignments, duties, and where each school unit is
placed (its area) in the materialised aggregates.

Every row carries the time of the change that wrote it: the newest change wins whatever order
events arrive in, and a removal is a change (a tombstone), so a replay ends in the same state.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Index, Integer, String, Table, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.schema import SchemaItem

from ..metadata import metadata

# pg_advisory_xact_lock(PLACEMENT_LOCK, hashtext(school_unit_code)): moving a school unit between
# areas and applying results of that school unit never interleave (see results.placement_of)
PLACEMENT_LOCK = 812_001
# pg_advisory_xact_lock(DIRECTORY_WRITE_LOCK, hashtext(organiser_id)): the writers of one organiser's
# directory (`directory/writes.py`: imports, platforms) take turns, so each compares against what the last committed
DIRECTORY_WRITE_LOCK = 812_002
# (812_003 is results' FACT_WRITERS_LOCK; an `Idempotency-Key` is claimed under the kit's own, 812_004: it shared
# 812_003 with the fact writers, a key whose hashtext met an organiser's waiting for that organiser's facts)
#: the batch memo (`registry.batch_memo`) of school unit → area read under that lock (`results.placement_of`)
PLACEMENT_MEMO = "placement"

units = Table(
    "directory_units", metadata,
    Column("organiser_id", String(16), primary_key=True),
    Column("unit_type", String(16), primary_key=True),
    # a group's id is scoped by its school unit: scope = school unit code for groups, "" otherwise
    Column("scope", String(8), primary_key=True),
    Column("unit_id", String(64), primary_key=True),
    Column("parent_id", String(64)),
    Column("name", String(200)),
    Column("school_unit_code", String(8)),
    Column("year", Integer),
    Column("roster_size", Integer),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("removed", Boolean, nullable=False),
    Index("ix_directory_units_school_unit_code", "school_unit_code"),
    Index("ix_directory_units_parent", "organiser_id", "parent_id"),
)

def _dated(name: str, id_column: str, *columns: SchemaItem) -> Table:
    """A dated directory entity (from `start_date` to `end_date`, either open) of one organiser, under the
    source's id: the shape the membership, teaching-assignment and duty events share (`directory/handlers`)."""
    return Table(
        name, metadata,
        Column("organiser_id", String(16), primary_key=True),
        Column(id_column, String(64), primary_key=True),
        Column("school_unit_code", String(8)),
        *columns,
        Column("start_date", Date),
        Column("end_date", Date),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("removed", Boolean, nullable=False),
    )


memberships = _dated(
    "directory_memberships", "membership_id",
    Column("group_id", String(64)),
    Column("student_id", String(64)),
    Index("ix_directory_memberships_group", "school_unit_code", "group_id"),
    Index("ix_directory_memberships_student", "organiser_id", "student_id"),  # compliance: a student's groups
)

teaching_assignments = _dated(
    "directory_teaching_assignments", "assignment_id",
    Column("group_id", String(64)),
    Column("teacher_id", String(64)),
    Column("subject_code", String(16)),
    Index("ix_directory_teaching_assignments_group", "school_unit_code", "group_id"),
)

duties = _dated(
    "directory_duties", "duty_id",
    Column("person_id", String(64)),
    Column("duty_role", String(64)),
)

placements = Table(
    "school_unit_placements", metadata,
    Column("school_unit_code", String(8), primary_key=True),
    Column("organiser_id", String(16), nullable=False),
    Column("area_id", String(64)),  # None: not (or no longer) placed in an area
)

#: Roster sizes as a step function per unit: `students` distinct students on the unit's rosters on
#: every day from `valid_from` to `valid_to` (open: NULL). Rebuilt per organiser whenever its
#: memberships or placements change (`rosters.rebuild_rosters`); a read is one lookup per date.
#: A unit with no student on a day has no row for it (its roster is unknown, as in the directory).
roster_sizes = Table(
    "directory_roster_sizes", metadata,
    Column("organiser_id", String(16), primary_key=True),
    Column("level", String(16), primary_key=True),
    Column("unit_id", String(80), primary_key=True),
    Column("valid_from", Date, primary_key=True),  # -infinity: since before any dated membership
    Column("valid_to", Date),
    Column("students", Integer, nullable=False),
)

KEYS = {
    units.name: ("organiser_id", "unit_type", "scope", "unit_id"),
    memberships.name: ("organiser_id", "membership_id"),
    teaching_assignments.name: ("organiser_id", "assignment_id"),
    duties.name: ("organiser_id", "duty_id"),
}

# What the directory write API last published per entity (a hash of its content): a second
# import of the same data publishes nothing. Written in the transaction of the outbox rows.
published = Table(
    "directory_published", metadata,
    Column("organiser_id", String(16), primary_key=True),
    Column("entity_key", String(200), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    # the source's id the entity came from (SS 12000: organisation, group, duty or activity id), so
    # a source's deletion list can name what to remove; and what a removal event must carry
    Column("source_id", String(64), nullable=False),
    Column("unit_type", String(16)),
    Column("school_unit_code", String(8)),
    # the client that last sent the entity (the token's client id, else its subject: `rules.writer_of`): a platform
    # lists back only what it wrote (`/held`). NULL: written before the column (0026) and not sent since — listed to
    # the organiser admin only, until a client sends it again (`writes.write_changes` records the sender then)
    Column("written_by", String(255)),
    Index("ix_directory_published_source_id", "source_id"),
    Index("ix_directory_published_writer", "organiser_id", "written_by", "entity_key"),  # a client's `/held` pages
    # the held-code check of every write with school units (`writes`: a code held by another organiser's directory)
    # looks its codes up here: without it a scan of every organiser's directory per batch (migration 0030)
    Index("ix_directory_published_school_unit_code", "school_unit_code",
          postgresql_where=text("school_unit_code IS NOT NULL")),
)

# The outcome of each directory write sent with an `Idempotency-Key` (`directory/idempotency.py`), per client: the
# same key with the same body again (a retry after a lost answer) gets it again instead of being applied again.
# Written in the transaction of the write itself; kept `idempotency.KEPT_HOURS`.
idempotency_keys = Table(
    "directory_idempotency_keys", metadata,
    Column("client", String(200), primary_key=True),  # the token's client id (else its subject)
    Column("idempotency_key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),  # SHA-256 of the endpoint and the body as validated
    Column("outcome", JSONB, nullable=False),  # the answer given (`ChangeSummary`)
    Column("created", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_directory_idempotency_keys_created", "created"),
)
