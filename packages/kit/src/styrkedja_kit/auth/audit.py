"""The audit trail of student-level reads: who (subject, client, roles) read what, for which
organiser, when. A service that serves student-level data defines the table in its metadata
(`define_audit_table`, plus an Alembic migration), calls `record_read` in the same transaction as
the read, and offers `audit_trail` to the organiser admin.

Only identifiers of the place read (organiser, unit, group) and the request path are kept — never
the figures or a student's data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime, Index, MetaData, String, Table, Uuid, func, select, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.identifiers import redact_personal_identity_numbers

from .policy import Node
from .principal import Principal

AUDIT_TABLE = "access_audit"


def define_audit_table(metadata: MetaData) -> Table:
    return Table(
        AUDIT_TABLE, metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # the row's name in a page's cursor (`position_at`): random, so it counts nothing, as the id counts every
        # organiser's reads
        Column("ref", Uuid, nullable=False, server_default=func.gen_random_uuid()),
        Column("subject", String(255), nullable=False),
        Column("client_id", String(255)),
        Column("roles", String(255), nullable=False),
        Column("organiser_id", String(64)),
        Column("level", String(20), nullable=False),
        Column("what", String(500), nullable=False),  # method and path, e.g. "GET /v1/students?..."
        Column("scope", JSONB, nullable=False),  # area, school unit, group that was read
        Index("ix_access_audit_organiser_at", "organiser_id", "at"),
    )


def kept_what(what: str) -> str:
    """The request as the trail keeps it: a personal identity number anywhere in it (a query parameter no route
    reads is not checked by any rule, and may be percent-encoded) redacted; at most 500 characters."""
    redacted, found = redact_personal_identity_numbers(unquote(what))
    return (redacted if found else what)[:500]


async def record_read(session: AsyncSession, table: Table, principal: Principal, node: Node, what: str) -> None:
    """Write one audit row inside the caller's transaction (the read and its record stand or fall together)."""
    await session.execute(table.insert().values(
        subject=principal.subject[:255], client_id=(principal.client_id or None) and principal.client_id[:255],
        roles=",".join(sorted(principal.roles))[:255], organiser_id=node.organiser_id, level=node.level.name.lower(),
        what=kept_what(what), scope={"area_id": node.area_id, "school_unit_code": node.school_unit_code,
                                "group_id": node.group_id}))


#: the most rows of the trail one read answers
AUDIT_PAGE_MAX = 10_000


async def audit_trail(session: AsyncSession, table: Table, organiser_id: str, *, since: datetime | None = None,
                      until: datetime | None = None, after: tuple[datetime, int] | None = None,
                      limit: int = 1000) -> list[dict[str, Any]]:
    """The organiser's audit rows, newest first (`at`, then `id`: a total order, which no row leaves), those after
    the position `after` (a page's last row's `at` and `id`); at most `limit`, and one more where asked (whether
    there is a next page). For the organiser admin; guard the route accordingly."""
    query = select(table).where(table.c.organiser_id == organiser_id)
    if since is not None:
        query = query.where(table.c.at >= since)
    if until is not None:
        query = query.where(table.c.at < until)
    if after is not None:  # newest first: the rows before the position (a row recorded since is before the first)
        query = query.where(tuple_(table.c.at, table.c.id) < tuple_(*after))
    rows = await session.execute(query.order_by(table.c.at.desc(), table.c.id.desc())
                                 .limit(max(1, min(limit, AUDIT_PAGE_MAX + 1))))
    return [dict(row._mapping) for row in rows]


async def position_at(session: AsyncSession, table: Table, organiser_id: str, at: datetime,
                      ref: UUID) -> tuple[datetime, int] | None:
    """The position of a page's last row for `audit_trail`'s `after`, from what a cursor tells of it: its moment and
    its `ref` (None: no row of the organiser's is so named — no cursor of the trail's). The cursor cannot carry the
    id, which counts every organiser's reads (one sequence for the table: two cursors told an organiser admin how
    many reads other organisers' users made between two of its own, hostile round 30h); nor a count of the rows left
    at the moment, which a read committed later at that moment with a smaller id changes (a row's `at` is its
    transaction's start, its id taken at the insert, and transactions commit in any order): the next page started
    one row early or late, and a row was skipped or read twice. A row's ref names it whatever commits since."""
    row_id = await session.scalar(select(table.c.id).where(
        table.c.organiser_id == organiser_id, table.c.at == at, table.c.ref == ref))
    return None if row_id is None else (at, int(row_id))
