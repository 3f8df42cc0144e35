"""Queries of the compliance lists: one window's stored tallies (the ledger the pure rules turn into
the organiser's and a school unit's views) and its expected reports by status. The routes check
access (`access.guard.check_read`) before they call these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from .rules import CellKind, ComplianceCell, ComplianceTally, WindowKey
from .tables import compliance_cells, compliance_items


async def ledger(session: AsyncSession, window: WindowKey, school_unit_code: str | None
                 ) -> dict[ComplianceCell, ComplianceTally]:
    """Every stored cell of the window (of one school unit, or all)."""
    c = compliance_cells.c
    query = select(compliance_cells).where(c.organiser_id == window.organiser_id, c.kind == window.kind.value,
                                           c.period == window.period)
    if school_unit_code is not None:
        query = query.where(c.school_unit_code == school_unit_code)
    found = (await session.execute(query)).all()
    return {ComplianceCell(window, CellKind(r.cell_kind), r.school_unit_code, r.group_id or None,
                           r.subject_code or None, r.teacher_id or None): ComplianceTally(r.expected, r.on_time, r.late)
            for r in found}


async def items_with_status(session: AsyncSession, window: WindowKey, school_unit_code: str, status: str
                            ) -> Sequence[Row[Any]]:
    """The expected reports of one school unit in the window with one status, by group, subject, student."""
    c = compliance_items.c
    return (await session.execute(select(compliance_items).where(
        c.organiser_id == window.organiser_id, c.kind == window.kind.value, c.period == window.period,
        c.school_unit_code == school_unit_code, c.status == status).order_by(
        c.group_id, c.subject_code, c.student_id))).all()
