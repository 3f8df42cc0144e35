"""Results read API: thin, every cell comes from `read.read_cells`."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator, Sequence
from typing import Literal, cast

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter

from styrkedja_contracts.scales import Scale, scale_values
from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Level as AuthLevel
from styrkedja_kit.auth import Principal, authorize_read
from styrkedja_kit.db import one_snapshot
from styrkedja_kit.inputs import OrganiserIdParam, SchoolYearParam, SubjectCodeParam
from styrkedja_kit.negotiation import accept_of

from ..access.answers import keep_answer
from ..access.guard import read_scope
from ..exports.negotiate import FORMAT_RESPONSES, ExportFormat, FormatParam, choose_format
from ..exports.response import export_response, give_back, held_stream
from ..exports.table import FEW_PUPILS, Approximately, Column, ColumnType, Row, Table, Withheld
from ..freshness import set_freshness
from ..params import UnitIdParam, unit_of_level
from ..settings import ReportingSettings
from .read import (
    CELLS_PER_TURN,
    Filters,
    HeldRows,
    Kind,
    Level,
    ResultCell,
    Split,
    count_cells,
    hold_student_rows,
    parts_of,
    read_cells,
    release_held,
    student_parts,
)

router = APIRouter(prefix="/v1", tags=["results"])


def max_cells(request: Request) -> int:
    """The bound of one read (`read.TooManyCells`), said in each operation's description."""
    return cast(ReportingSettings, runtime_of(request).settings).results_read_max_cells


_VALUES = [v for scale in Scale for v in scale_values(scale)]  # one column per scale value
_INT, _SHARE = ColumnType.integer, ColumnType.share
COLUMNS = [Column("level", "Nivå"), Column("unit_id", "Enhet", width=24), Column("subject_code", "Ämne", width=12),
           Column("school_year", "Läsår"), Column("term", "Termin"), Column("round", "Omgång", _INT),
           Column("kind", "Slag"), Column("scale", "Skala"), Column("gender", "Kön"), Column("year", "Årskurs", _INT),
           *[Column(f"count_{v}", v, _INT) for v in _VALUES], Column("assessed", "Bedömda", _INT),
           Column("reaching_pass", "Når godtagbar nivå", _INT), Column("share_reaching_pass", "Andel", _SHARE)]


def _rows(cells: Sequence[ResultCell]) -> Iterator[Row]:
    for c in cells:
        if c.distribution is None:  # withheld: `..` in every figure (`~100` in the share under that rule)
            hidden = Withheld(c.reason if c.approximately is None else FEW_PUPILS)
            yield (c.level, c.unit_id, c.subject_code, c.school_year, c.term, c.round, c.kind, c.scale, c.gender,
                   c.year, *[hidden if v in scale_values(c.scale) else None for v in _VALUES],
                   c.assessed if c.assessed is not None else hidden, hidden,
                   hidden if c.approximately is None else Approximately(c.approximately))
            continue
        yield (c.level, c.unit_id, c.subject_code, c.school_year, c.term, c.round, c.kind, c.scale, c.gender, c.year,
               *[c.distribution.get(v, 0) if v in c.distribution or v in scale_values(c.scale) else None
                 for v in _VALUES], c.assessed, c.reaching_pass, c.share_reaching_pass)


_CELLS = TypeAdapter(list[ResultCell])


async def json_in_turns(cells: list[ResultCell]) -> AsyncIterator[bytes]:
    """The bytes `_CELLS.dump_json(cells)` gives, encoded `CELLS_PER_TURN` cells at a time with a turn of the event
    loop between: pydantic-core encodes a list in one call holding the GIL (~2 µs a cell), which for a student-level
    read of many organisers is seconds that neither the loop nor uvicorn's health-check thread can run."""
    yield b"["
    first = True
    async for part in parts_of(cells, release=True):  # each part's cells freed once sent, not all at the end
        yield (b"" if first else b",") + _CELLS.dump_json(part)[1:-1]
        first = False
    yield b"]"


def _answer(request: Request, response: Response, cells: list[ResultCell], name: str, format: str | None) -> Response:
    """JSON as the list of cells (the API's own shape, encoded by pydantic-core: the cells are the response
    model already; at once where they are few, else in turns, streamed); CSV and xlsx as a table (exports/)."""
    answer: Response
    if choose_format(format, accept_of(request.headers)) is ExportFormat.json:
        if len(cells) <= CELLS_PER_TURN:
            answer = Response(_CELLS.dump_json(cells), media_type="application/json")
        else:
            answer = StreamingResponse(json_in_turns(cells), media_type="application/json")
    else:
        answer = export_response(request, Table(name, COLUMNS, _rows(cells)), format)
    return _with_headers(answer, response)


def _with_headers(answer: Response, response: Response) -> Response:
    for header in [h for h in response.headers if h.lower().startswith("x-styrkedja")]:
        answer.headers[header] = response.headers[header]
    return answer


async def _read(request: Request, response: Response, principal: Principal, kind: Kind,
                level: Level, filters: Filters, name: str, format: str | None) -> Response:
    """The cells of `kind` the reader may read, answered in the format asked for (file `name-level-organiser`)."""
    name = f"{name}-{level}-{filters.organiser_id or 'alla'}"
    if level == "student":  # audited: never kept
        return await _students(request, response, principal, kind, filters, name, format)
    async with runtime_of(request).db.sessions.begin() as session:
        await one_snapshot(session)  # the cells and their disclosure decision: one state
        scope, _ = await read_scope(session, request, principal, AuthLevel[level.upper()], filters.organiser_id,
                                    filters.unit_id)
        cells = await read_cells(session, kind, level, filters, scope, max_cells(request))
        await set_freshness(session, response, request)
    keep_answer(request, scope)
    return _answer(request, response, cells, name, format)


async def _students(request: Request, response: Response, principal: Principal, kind: Kind, filters: Filters,
                    name: str, format: str | None) -> Response:
    """A student-level read (an organiser's ~22,000 cells): sent a part of `CELLS_PER_TURN` cells at a time as its
    rows are fetched, so that a worker holds about one part, not every cell until the first byte (bench/README.md,
    stream32). One transaction (one snapshot) decides it whole before the first byte and commits its audit row with
    the rows it answers (stream33):
    * the format (406/422), before anything is read;
    * the scope (`read_scope`, which writes the audit row), the bound — the read's cells counted in SQL; past the
      bound, or for a reader whose cells are picked after the query (a teacher's groups: the count is of its
      organiser's), or for few cells (one part), the read held whole decides (refused or answered) as before — and
      the freshness headers;
    * for a read sent in parts, its rows declared as a cursor WITH HOLD (`read.hold_student_rows`) and the answer
      built (an export slot taken: 503/429 when none is free).
    A refusal rolls the transaction back: no audit row for a read that answered nothing. Then it commits: the audit
    row is in the trail before any of the data leaves (it stands for data that may have left since: its client may
    leave mid-answer), and the rows then sent are of the state the scope and the bound were decided on, not of a
    later one. The held rows' connection stays out of the pool until the answer is sent or the client is gone
    (`ClosingStream`), with an export slot (`held_stream`), as a file does; the cursor is closed then."""
    fmt = choose_format(format, accept_of(request.headers))
    bound = max_cells(request)
    db = runtime_of(request).db
    connection = await db.engine.connect()
    held: HeldRows | None = None  # kept past the commit: a cursor declared in a transaction rolled back is gone
    answer: Response | None = None

    async def close() -> None:
        try:
            if held is not None and held.committed:
                await release_held(held)
        finally:
            await connection.close()

    try:
        async with db.sessions(bind=connection) as session, session.begin():
            await one_snapshot(session)
            scope, _ = await read_scope(session, request, principal, AuthLevel.STUDENT, filters.organiser_id,
                                        filters.unit_id)
            counted = await count_cells(session, kind, "student", filters, scope, max(bound, CELLS_PER_TURN))
            await set_freshness(session, response, request)
            if counted <= CELLS_PER_TURN or counted > bound:
                cells = await read_cells(session, kind, "student", filters, scope, bound)
                answer = _answer(request, response, cells, name, format)
            else:
                held = await hold_student_rows(session, kind, filters, scope)
                parts = student_parts(held, kind, scope)
                if fmt is ExportFormat.json:
                    answer = held_stream(request, _json_of(parts), media_type="application/json", close=close)
                else:
                    answer = export_response(request, Table(name, COLUMNS, _rows_of(parts)), format, close=close)
        # committed: the audit row, and the held rows kept past it
        if held is not None:
            held.committed = True
            # each fetch a statement of its own: no transaction (and no snapshot, which holds back vacuum) left open
            # while a slow client reads; the connection's level is reset when it is given back to the pool
            await connection.execution_options(isolation_level="AUTOCOMMIT")
    except BaseException:
        if answer is not None:
            give_back(answer)  # never sent: its export slot is free again
        with anyio.CancelScope(shield=True):
            await close()
        raise
    if held is None:  # held whole: the answer's cells are in hand, the connection is not needed for it
        await close()
        return answer
    return _with_headers(answer, response)


async def _json_of(parts: AsyncIterable[list[ResultCell]]) -> AsyncIterator[bytes]:
    """The bytes `_CELLS.dump_json` gives of every part's cells as one list, a part at a time."""
    yield b"["
    first = True
    async for cells in parts:
        yield (b"" if first else b",") + _CELLS.dump_json(cells)[1:-1]
        first = False
    yield b"]"


async def _rows_of(parts: AsyncIterable[list[ResultCell]]) -> AsyncIterator[Row]:
    async for cells in parts:
        for row in _rows(cells):
            yield row


@router.get("/results/assessments", responses=FORMAT_RESPONSES, response_model=list[ResultCell])
async def assessment_results(
        request: Request, response: Response, level: Level,
        organiser_id: OrganiserIdParam | None = Query(None),
        unit_id: UnitIdParam | None = Query(None),
        subject_code: SubjectCodeParam | None = Query(None),
        school_year: SchoolYearParam | None = Query(None),
        term: Literal["HT", "VT"] | None = None, round: int | None = Query(None, ge=1, le=4),
        kind: Literal["assessment", "written_report", "term_grade"] | None = None,
        year: int | None = Query(None, ge=0, le=9),
        gender: Literal["female", "male", "unknown"] | None = None,
        split: list[Split] = Query(default=[]),
        format: FormatParam = None,
        principal: Principal = authorize_read()):
    """Distribution over the scale, number assessed and number/share reaching the pass level.
    A group's unit id is `<school_unit_code>/<group_id>` (group ids are scoped by school unit).

    A read answers at most `STYRKEDJA_RESULTS_READ_MAX_CELLS` cells (40,000 unless the service is set otherwise;
    the cells the reader may read: a teacher's groups', a principal's units'): a read of more is refused
    whole, 422 with rule `too_many_cells` naming the parameters that narrow it (organiser_id, unit_id, subject_code,
    school_year, term, round, kind, year, gender), never answered in part. An organiser's students (~22,000 results
    for one of the national average size) and every organiser at organiser level are within it."""
    filters = Filters(organiser_id=organiser_id, unit_id=unit_of_level(level, unit_id), subject_code=subject_code,
                      school_year=school_year, term=term, round=round, kind=kind, year=year, gender=gender,
                      split=tuple(split))
    return await _read(request, response, principal, "assessments", level, filters, "resultat", format)


@router.get("/results/forecasts", responses=FORMAT_RESPONSES, response_model=list[ResultCell])
async def forecast_results(
        request: Request, response: Response, level: Level,
        organiser_id: OrganiserIdParam | None = Query(None),
        unit_id: UnitIdParam | None = Query(None),
        subject_code: SubjectCodeParam | None = Query(None),
        school_year: SchoolYearParam | None = Query(None),
        term: Literal["HT", "VT"] | None = None,
        year: int | None = Query(None, ge=0, le=9),
        gender: Literal["female", "male", "unknown"] | None = None,
        split: list[Split] = Query(default=[]),
        format: FormatParam = None,
        principal: Principal = authorize_read()):
    """Forecasts (prognoser): not reached / acceptable / more than acceptable, and share reaching pass.

    A read answers at most `STYRKEDJA_RESULTS_READ_MAX_CELLS` cells (40,000 unless the service is set otherwise;
    the cells the reader may read: a teacher's groups', a principal's units'): a read of more is refused
    whole, 422 with rule `too_many_cells` naming the parameters that narrow it (organiser_id, unit_id, subject_code,
    school_year, term, year, gender), never answered in part. An organiser's students (~22,000 results
    for one of the national average size) and every organiser at organiser level are within it."""
    filters = Filters(organiser_id=organiser_id, unit_id=unit_of_level(level, unit_id), subject_code=subject_code,
                      school_year=school_year, term=term, year=year, gender=gender, split=tuple(split))
    return await _read(request, response, principal, "forecasts", level, filters, "prognoser", format)
