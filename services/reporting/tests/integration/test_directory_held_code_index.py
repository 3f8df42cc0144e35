"""The held-code check of a directory write with school units (`directory.writes._refuse_others_school_units`) looks
the batch's codes up in `directory_published`: by an index (migration 0030), not a scan of every organiser's
directory per batch. Failed before: no index on `school_unit_code`, the plan a sequential scan even with scans
priced out."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from styrkedja_reporting.directory.writes import _refuse_others_school_units

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


async def test_the_held_code_check_reads_its_codes_by_index(database):
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        if "directory_published" in statement and "school_unit_code" in statement:
            captured.append((statement, parameters))

    async with database.sessions.begin() as session:
        connection = await session.connection()
        event.listen(connection.sync_connection, "before_cursor_execute", capture)
        try:
            await _refuse_others_school_units(session, [("2999", "unit:school_unit:11111111", "digest", None, "x")],
                                              {0: "11111111"}, {"2999"})
        finally:
            event.remove(connection.sync_connection, "before_cursor_execute", capture)
        [(statement, parameters)] = captured
        await session.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table: the planner's one choice
        plan = "\n".join((await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)).scalars())
    assert "ix_directory_published_school_unit_code" in plan, plan
