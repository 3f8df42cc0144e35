"""The audit trail of student-level reads, against a real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import MetaData

from styrkedja_kit.auth import Level, Node, Principal, Role
from styrkedja_kit.auth.audit import audit_trail, define_audit_table, position_at, record_read
from styrkedja_kit.db import Database

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

metadata = MetaData()
audit = define_audit_table(metadata)


async def test_reads_are_recorded_and_each_organiser_sees_only_its_own(infrastructure):
    db = Database(infrastructure.create_database(f"t_audit_{uuid.uuid4().hex[:8]}"), pool_size=2)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        rektor = Principal("user-17", frozenset({Role.PRINCIPAL}), organisers=frozenset({"2999"}),
                           school_units=frozenset({"29990011"}))
        async with db.sessions.begin() as session:
            await record_read(session, audit, rektor, Node(Level.STUDENT, "2999", "north", "29990011", "7A"),
                              "GET /v1/students?group_id=7A")
            await record_read(session, audit, rektor, Node(Level.STUDENT, "2999", "north", "29990011", "7B"),
                              "GET /v1/students?group_id=7B")
            await record_read(session, audit, rektor, Node(Level.STUDENT, "0180", None, "01800001"), "GET /x")
        async with db.sessions() as session:
            rows = await audit_trail(session, audit, "2999")
        assert [r["scope"]["group_id"] for r in rows] == ["7B", "7A"]  # newest first
        assert {(r["subject"], r["roles"], r["level"]) for r in rows} == {("user-17", "principal", "student")}
        async with db.sessions() as session:
            assert len(await audit_trail(session, audit, "0180")) == 1
            assert await audit_trail(session, audit, "2999", since=rows[0]["at"], limit=1) == rows[:1]
            # a page after the position of the first row (`at`, `id`): the rest, in the same order (round 30a)
            after = (rows[0]["at"], rows[0]["id"])
            assert await audit_trail(session, audit, "2999", after=after) == rows[1:]
            assert await audit_trail(session, audit, "2999", after=(rows[1]["at"], rows[1]["id"])) == []
            # a row found again by its moment and random ref, which names no count (round 31); another organiser's
            # ref names none of this organiser's rows
            assert await position_at(session, audit, "2999", rows[0]["at"], rows[0]["ref"]) == after
            assert len({r["ref"] for r in rows}) == 2
            other = (await audit_trail(session, audit, "0180"))[0]
            assert await position_at(session, audit, "2999", other["at"], other["ref"]) is None
    finally:
        await db.dispose()


def test_the_trail_keeps_no_personal_identity_number_of_the_request() -> None:
    """A query parameter no route reads is checked by no rule: the trail redacts a personnummer in it, also
    percent-encoded, and keeps every other request as it was sent."""
    from styrkedja_kit.auth.audit import kept_what

    assert kept_what("GET /v1/x?level=student&note=19121212-1212") == "GET /v1/x?level=student&note=[REDACTED]"
    assert kept_what("GET /v1/x?note=%31%39%31%32%31%32%31%32%2D%31%32%31%32") == "GET /v1/x?note=[REDACTED]"
    assert kept_what("GET /v1/x?unit_id=11111111%2F7A&q=a%20b") == "GET /v1/x?unit_id=11111111%2F7A&q=a%20b"
    assert len(kept_what("GET /v1/x?q=" + "a" * 1000)) == 500
