"""A student-level results read is sent a part at a time as its rows are read (`results.routes._students`,
`read.student_parts`), its session left open for the answer. Here `CELLS_PER_TURN` is 1, so the three students of
`fed` (two of organiser 2999, one of 3001) take that path in parts of one cell: its answer is the answer held whole
(the same bytes in JSON and CSV, the same cells in xlsx) for every reader; what is refused is refused before the first
byte, the stream never opened; and a client that leaves mid-answer has the stream's connection back in the pool."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

import openpyxl
import pytest

from styrkedja_devstack.testing import app_and_client, service_client
from styrkedja_reporting.access.tables import audit_reads
from styrkedja_reporting.exports import response
from styrkedja_reporting.results import read, routes

from .test_read_api import fed  # noqa: F401  (the fixture: three students of two organisers)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

PATH = "/v1/results/assessments"


def _readers(token_issuer, admin_token: str) -> dict[str, str]:
    return {
        "admin": admin_token,
        # its cells picked after the query (one group of 2999's two)
        "teacher": token_issuer.mint(roles=["teacher"], organisers=["2999"], groups=["11111111/7A"]),
        # the student level suppressed by its widest role: every cell withheld
        "politician-teacher": token_issuer.mint(roles=["politician", "teacher"], organisers=["2999"],
                                                groups=["11111111/7A"]),
    }


READS = [({"level": "student"}, "admin"), ({"level": "student", "organiser_id": "2999"}, "admin"),
         ({"level": "student", "organiser_id": "2999"}, "teacher"),
         ({"level": "student", "organiser_id": "2999"}, "politician-teacher"),
         ({"level": "student", "organiser_id": "3001"}, "admin")]


def _streamed(monkeypatch) -> list[Any]:
    """A turn of one cell, and the sessions of the streams opened (`student_parts` called): held here, so that a
    session left open is not closed by the garbage collector before it is looked at."""
    monkeypatch.setattr(read, "CELLS_PER_TURN", 1)
    monkeypatch.setattr(routes, "CELLS_PER_TURN", 1)
    opened: list[Any] = []
    parts_of = routes.student_parts

    def counted(session: Any, *args: Any, **kwargs: Any):
        opened.append(session)
        return parts_of(session, *args, **kwargs)

    monkeypatch.setattr(routes, "student_parts", counted)
    return opened


async def _answers(settings, tokens: dict[str, str], fmt: str) -> list[tuple[int, dict[str, str], bytes]]:
    read.KEPT.clear()
    out = []
    async with service_client("styrkedja_reporting", settings) as c:
        for params, reader in READS:
            response = await c.get(PATH, params={**params, "format": fmt},
                                   headers={"Authorization": f"Bearer {tokens[reader]}"})
            headers = {k: v for k, v in response.headers.items() if k.startswith("x-styrkedja")
                       or k in ("content-type", "content-disposition", "vary")}
            out.append((response.status_code, headers, response.content))
    return out


def _cells_of(workbook: bytes) -> list[list[Any]]:
    book = openpyxl.load_workbook(io.BytesIO(workbook), read_only=True)
    return [list(row) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
async def test_a_streamed_student_read_is_the_answer_held_whole(settings, admin_token, token_issuer, fed,  # noqa: F811
                                                                monkeypatch, fmt):
    tokens = _readers(token_issuer, admin_token)
    held = await _answers(settings, tokens, fmt)
    opened = _streamed(monkeypatch)
    streamed = await _answers(settings, tokens, fmt)
    assert len(opened) == len(READS) - 1  # every read but the one of a single cell (one part: held as before)
    assert [status for status, _, _ in held] == [200] * len(READS)
    if fmt == "xlsx":  # a workbook says when it was written: its cells compared
        assert [(s, h, _cells_of(b)) for s, h, b in streamed] == [(s, h, _cells_of(b)) for s, h, b in held]
    else:
        assert streamed == held
    if fmt == "json":
        assert b'"s-1"' in held[2][2] and b'"s-2"' not in held[2][2]  # the teacher's group's student alone
        assert b'"OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"' in held[3][2] and b'"distribution":{' not in held[3][2]


async def test_a_student_read_refused_is_refused_before_the_stream_opens(settings, admin_token, token_issuer,
                                                                         fed, monkeypatch):  # noqa: F811
    opened = _streamed(monkeypatch)
    counted: list[int] = []
    count_of = routes.count_cells

    async def count(*args: Any, **kwargs: Any) -> int:
        counted.append(1)
        return await count_of(*args, **kwargs)

    monkeypatch.setattr(routes, "count_cells", count)
    other = token_issuer.mint(roles=["organiser_admin"], organisers=["3001"])
    bounded = settings.model_copy(update={"results_read_max_cells": 2})
    async with service_client("styrkedja_reporting", bounded) as c:
        for fmt in ("json", "csv", "xlsx"):
            # a reader without the organiser in its scope: refused before anything is counted or read
            refused = await c.get(PATH, params={"level": "student", "organiser_id": "2999", "format": fmt},
                                  headers={"Authorization": f"Bearer {other}"})
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert counted == [] and opened == []
            # past the bound (3 students, 2 the most): refused whole, counted but never streamed
            past = await c.get(PATH, params={"level": "student", "format": fmt},
                               headers={"Authorization": f"Bearer {admin_token}"})
            assert past.status_code == 422 and past.json()["errors"][0]["rule"] == "too_many_cells"
            assert opened == []
            counted.clear()


def _student_read(fmt: str, token: str) -> dict[str, Any]:
    """The ASGI scope of a student-level read, for a test that plays the client itself (how it receives and reads)."""
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "root_path": "",
            "query_string": f"level=student&format={fmt}".encode(), "server": ("reporting", 80),
            "client": ("127.0.0.1", 5000),
            "headers": [(b"host", b"reporting"), (b"authorization", f"Bearer {token}".encode())]}


def _asking_then_leaving_when(gone: asyncio.Event) -> Callable[[], Awaitable[dict[str, Any]]]:
    """The ASGI `receive` of a client that asks (an empty body) and leaves once `gone` is set."""
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}
    return receive


@pytest.mark.parametrize("fmt", ["json", "csv"])
async def test_a_client_leaving_mid_answer_closes_the_streams_connection(settings, admin_token, fed,  # noqa: F811
                                                                         monkeypatch, fmt):
    opened = _streamed(monkeypatch)
    monkeypatch.setattr(response, "CHUNK", 1)  # a CSV sent a row at a time, as a large one is 64 KiB at a time
    read.KEPT.clear()
    async with app_and_client("styrkedja_reporting", settings) as (app, _):
        pool = app.state.runtime.db.engine.pool
        sent: list[dict[str, Any]] = []
        cells_sent = asyncio.Event()
        receive = _asking_then_leaving_when(cells_sent)  # once a part of the cells has been sent

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if sum(1 for m in sent if m["type"] == "http.response.body" and m.get("body")) == 2:  # after the head
                cells_sent.set()
                await asyncio.Event().wait()  # the client reads no further: the server waits on its socket

        await asyncio.wait_for(app(_student_read(fmt, admin_token), receive, send), 60)
        assert len(opened) == 1
        assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
        assert not any(m["type"] == "http.response.body" and not m.get("more_body", False) for m in sent)  # cut
        assert pool.checkedout() == 0  # the stream's session closed, its connection back in the pool
        assert all(getattr(held, "closed", True) for held in opened)  # its held rows' cursor closed (stream33)


async def test_a_streamed_json_read_holds_an_export_slot_until_its_client_has_read_it(settings, admin_token,
                                                                                       fed, monkeypatch):  # noqa: F811
    """Failed before: a student-level read in JSON, sent as it is read, holds a database connection and its
    transaction as long as its client takes to read it, and took no slot — a few clients that read slowly would hold
    the whole pool. It holds one of the export slots, as a file does: with one slot, a second stream while the first
    is unread is refused 503 `overloaded`; once the first client is gone, a stream is answered again."""
    _streamed(monkeypatch)
    read.KEPT.clear()
    one_slot = settings.model_copy(update={"max_exports_in_flight": 1})
    async with app_and_client("styrkedja_reporting", one_slot) as (app, client):
        headers = {"Authorization": f"Bearer {admin_token}"}
        head_sent, leave = asyncio.Event(), asyncio.Event()
        receive = _asking_then_leaving_when(leave)

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and len(message.get("body", b"")) > 1:  # a cell, past `[`
                head_sent.set()
                await asyncio.Event().wait()  # a client that reads nothing more

        slow = asyncio.create_task(app(_student_read("json", admin_token), receive, send))
        await asyncio.wait_for(head_sent.wait(), 60)
        # stream33: the stream's rows are held past its commit; no transaction (no snapshot) open while it waits
        async with app.state.runtime.db.engine.connect() as connection:
            waiting = (await connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")).scalar_one()
        assert waiting == 0
        trail = await _trail(app.state.runtime.db.engine)
        refused = await client.get(PATH, params={"level": "student", "format": "json"}, headers=headers)
        assert refused.status_code == 503, refused.text
        assert [e["rule"] for e in refused.json()["errors"]] == ["overloaded"], refused.text
        assert await _trail(app.state.runtime.db.engine) == trail  # refused: not in the audit trail (stream33)
        leave.set()
        await asyncio.wait_for(slow, 60)
        answered = await client.get(PATH, params={"level": "student", "format": "json"}, headers=headers)
        assert answered.status_code == 200, answered.text
        assert len(answered.json()) == 3


# --- stream33: the audit row, the scope, the bound and the rows sent are one transaction -----------------------------

async def _trail(engine: Any) -> int:
    async with engine.connect() as connection:
        return int((await connection.exec_driver_sql(f"SELECT count(*) FROM {audit_reads.name}")).scalar_one())


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
async def test_a_student_read_refused_writes_no_audit_row(settings, admin_token, fed, monkeypatch,  # noqa: F811
                                                          fmt):
    """Failed before: the scope's transaction committed the audit row before the format, the bound or an export slot
    was decided — a read refused 422 `too_many_cells` (or 503 with no export slot free:
    `test_a_streamed_json_read_holds_an_export_slot_until_its_client_has_read_it`) answered nothing but was in the
    trail as read. Now the audit row is committed with the decisions, rolled back with a
    refusal; a read answered is in the trail once."""
    _streamed(monkeypatch)
    read.KEPT.clear()
    bounded = settings.model_copy(update={"results_read_max_cells": 2})
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with app_and_client("styrkedja_reporting", bounded) as (app, client):
        engine = app.state.runtime.db.engine
        before = await _trail(engine)
        past = await client.get(PATH, params={"level": "student", "format": fmt}, headers=headers)
        assert past.status_code == 422 and past.json()["errors"][0]["rule"] == "too_many_cells"
        assert await _trail(engine) == before  # nothing answered, nothing in the trail
        answered = await client.get(PATH, params={"level": "student", "organiser_id": "2999", "format": fmt},
                                    headers=headers)
        assert answered.status_code == 200, answered.text
        assert await _trail(engine) == before + 1


async def test_a_streamed_student_read_answers_the_state_its_audit_and_bound_were_decided_on(
        settings, admin_token, fed, monkeypatch):  # noqa: F811
    """Failed before: the audit row and the scope were one transaction, the count and the rows another, begun after
    the first committed — a student whose results were removed in between was in the trail's read but not in its
    answer (and a student added in between in the answer, not decided on with the scope). Now one snapshot: a
    change committed after the read's transaction began is not in its answer, sent after it committed (the rows held
    past the commit, `read.hold_student_rows`)."""
    opened = _streamed(monkeypatch)
    read.KEPT.clear()
    facts = read.STORES["assessments"].facts.name
    async with app_and_client("styrkedja_reporting", settings) as (app, client):
        engine = app.state.runtime.db.engine
        count_of = routes.count_cells

        async def removed_first(*args: Any, **kwargs: Any) -> int:  # another transaction commits meanwhile
            async with engine.begin() as connection:
                await connection.exec_driver_sql(f"DELETE FROM {facts} WHERE student_id = 's-3'")
            return await count_of(*args, **kwargs)

        monkeypatch.setattr(routes, "count_cells", removed_first)
        answered = await client.get(PATH, params={"level": "student"},
                                    headers={"Authorization": f"Bearer {admin_token}"})
        assert answered.status_code == 200, answered.text
        assert len(opened) == 1  # sent in parts
        assert sorted(c["unit_id"] for c in answered.json()) == ["s-1", "s-2", "s-3"]
        monkeypatch.setattr(routes, "count_cells", count_of)
        again = await client.get(PATH, params={"level": "student"},
                                 headers={"Authorization": f"Bearer {admin_token}"})
        assert sorted(c["unit_id"] for c in again.json()) == ["s-1", "s-2"]  # the next read: the state now
        assert all(held.closed for held in opened)
        assert engine.pool.checkedout() == 0


async def test_a_held_cursor_left_on_a_pooled_connection_does_not_refuse_the_next_streamed_read(
        settings, admin_token, fed, monkeypatch):  # noqa: F811
    """Failed before `CLOSE ALL`: a cursor WITH HOLD outlives transactions, and the pool gives a connection back with
    a ROLLBACK, which closes none — one left by an answer never sent (never closed) refused every later DECLARE of the
    same name on that connection (500 `cursor "student_read_rows" already exists`)."""
    opened = _streamed(monkeypatch)
    read.KEPT.clear()
    one_connection = settings.model_copy(update={"database_pool_size": 1})
    async with app_and_client("styrkedja_reporting", one_connection) as (app, client):
        async with app.state.runtime.db.engine.connect() as connection:
            await connection.exec_driver_sql(f"DECLARE {read.HELD_CURSOR} CURSOR WITH HOLD FOR SELECT 1")
            await connection.commit()  # given back to the pool with the cursor still open
        answered = await client.get(PATH, params={"level": "student"},
                                    headers={"Authorization": f"Bearer {admin_token}"})
        assert answered.status_code == 200, answered.text
        assert len(opened) == 1 and len(answered.json()) == 3
