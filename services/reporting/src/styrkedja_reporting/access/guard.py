"""The checks every read route makes, in one place: the reader (token + directory), the node asked
for (`require_read`), and the audit row of a student-level read (in the read's transaction)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import AccessDenied, Level, Node, Principal, may_read, readable_levels, require_read
from styrkedja_kit.auth.audit import record_read

from ..results.read import Scope
from .disclosure import DisclosureRules, suppressed_levels
from .scope import node_of, reader_of
from .tables import audit_reads


def what_of(request: Request) -> str:
    query = request.url.query
    return f"{request.method} {request.url.path}" + (f"?{query}" if query else "")


async def audit(session: AsyncSession, request: Request, principal: Principal, node: Node) -> None:
    """One audit row for a read of student-level data at `node` (the caller commits with the read)."""
    await record_read(session, audit_reads, principal, node, what_of(request))


async def check_read(session: AsyncSession, request: Request, principal: Principal, level: Level,
                     organiser_id: str | None, unit_id: str | None = None, *, school_unit_code: str | None = None,
                     group_id: str | None = None, field: str = "scope") -> tuple[Principal, Node]:
    """The reader completed from the directory and the node it asks for, after `require_read`;
    a student-level read is audited."""
    reader = await reader_of(session, principal)
    node = await node_of(session, level, organiser_id, unit_id, school_unit_code=school_unit_code,
                         group_id=group_id)
    require_read(reader, node, field=field)
    if level is Level.STUDENT:
        await audit(session, request, reader, node)
    return reader, node


async def read_scope(session: AsyncSession, request: Request, principal: Principal, level: Level,
                     organiser_id: str | None, unit_id: str | None = None, *, school_unit_code: str | None = None,
                     group_id: str | None = None) -> tuple[Scope, Node]:
    """The `Scope` of a read through the one read path, after the checks: a named place must be
    readable (`require_read`); without one, the level must be one the reader reads at all and the
    organiser one of its own (the read path then drops the rows out of its reach). A student-level
    read is audited."""
    reader = await reader_of(session, principal)
    if level is Level.STUDENT:
        unit_id = None  # a student id names no place: the read path keeps the rows of the reader's groups/units
    node = await node_of(session, level, organiser_id, unit_id, school_unit_code=school_unit_code,
                         group_id=group_id)
    if unit_id is not None or school_unit_code is not None or level in (Level.ORGANISER, Level.NATION):
        require_read(reader, node)
    else:
        if level not in readable_levels(reader):
            raise AccessDenied("level", "read_scope", f"this token may not read at {level.name.lower()} level")
        if organiser_id is not None and not may_read(reader, Node(level, organiser_id=organiser_id)) \
                and organiser_id not in reader.organisers:
            raise AccessDenied("organiser_id", "read_scope", "this token may not read this organiser")
    if level is Level.STUDENT:
        await audit(session, request, reader, node)
    settings = runtime_of(request).settings
    rules = settings.disclosure_rules() if hasattr(settings, "disclosure_rules") else DisclosureRules()
    return Scope(principal=reader, suppressed=suppressed_levels(principal), rules=rules), node
