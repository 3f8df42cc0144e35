"""The SS 12000 import against a small SS 12000 v2 API served here (written from the public
specification: paged `{data, pageToken}` lists, `meta.modified.after`, `/deletedEntities`), and
against a folder dump: into the reporting service's directory write API (in-process), whose
outbox events are then applied as the consumer would. Civic numbers in the source never reach
a table, an event or a log."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from sqlalchemy import text

from styrkedja_cli.ss12000.command import read_and_plan, send
from styrkedja_cli.ss12000.source import FolderSource, HttpSource, SourceError
from styrkedja_contracts import decode_event
from styrkedja_devstack.postgres import free_port
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

CIVIC = "201001012383"  # a valid-looking personnummer: must never be stored, sent or logged
CIVIC_DASH = "20100101-2383"
ZONE = ZoneInfo("Europe/Stockholm")
HUV, AREA, SU1, SU2 = ("0f0e0d0c-0000-4000-8000-000000000001", "0f0e0d0c-0000-4000-8000-000000000002",
                       "0f0e0d0c-0000-4000-8000-000000000003", "0f0e0d0c-0000-4000-8000-000000000004")
G1, G2 = "9a9a9a9a-0000-4000-8000-000000000001", "9a9a9a9a-0000-4000-8000-000000000002"
P1, P2, P3 = ("7e7e7e7e-0000-4000-8000-000000000001", "7e7e7e7e-0000-4000-8000-000000000002",
              "7e7e7e7e-0000-4000-8000-000000000003")
D1, A1, S1 = "5d5d5d5d-0000-4000-8000-000000000001", "4a4a4a4a-0000-4000-8000-000000000001", "syl-ma"


def meta(modified: str) -> dict:
    return {"created": "2026-08-01T08:00:00", "modified": modified}  # no zone: read as Swedish time


def enrolment(unit: str, year: int, **extra) -> dict:
    return {"enroledAt": {"id": unit}, "schoolYear": year, "schoolType": "GR", "startDate": "2026-08-01", **extra}


def person(pid: str) -> dict:
    return {"id": pid, "displayName": "Elev", "civicNo": {"value": CIVIC, "nationality": "SE"}}


def dataset() -> dict[str, list[dict]]:
    return {
        "organisations": [
            {"id": HUV, "displayName": "Mittköpings kommun", "organisationType": "Huvudman",
             "municipalityCode": "2999", "organisationNumber": "212000-2999", "meta": meta("2026-08-01T08:00:00"),
             "someVendorField": {"x": 1}},
            {"id": AREA, "displayName": "Område Norr", "organisationType": "Förvaltning",
             "parentOrganisation": {"id": HUV}, "meta": meta("2026-08-01T08:00:00")},
            {"id": SU1, "displayName": "Björkskolan", "organisationType": "Skolenhet", "schoolUnitCode": "29990011",
             "parentOrganisation": {"id": AREA}, "meta": meta("2026-08-01T08:00:00")},
            {"id": SU2, "displayName": "Granskolan", "organisationType": "Skolenhet", "schoolUnitCode": "29990022",
             "parentOrganisation": {"id": HUV}, "meta": meta("2026-08-01T08:00:00")},
        ],
        "groups": [
            {"id": G1, "displayName": "7A", "groupType": "Klass", "organisation": {"id": SU1},
             "startDate": "2026-08-17", "meta": meta("2026-08-01T08:00:00"),
             "groupMemberships": [{"person": person(P1), "startDate": "2026-08-17"},
                                  {"person": person(P2), "startDate": "2026-08-17", "endDate": "2026-12-20"}]},
            {"id": G2, "displayName": "7A", "groupType": "Klass", "organisation": {"id": SU2},
             "startDate": "2026-08-17", "meta": meta("2026-08-01T08:00:00"),
             "groupMemberships": [{"person": person(P3), "startDate": "2026-08-17"}]},
        ],
        "duties": [{"id": D1, "person": person("8b8b8b8b-0000-4000-8000-000000000001"), "dutyAt": {"id": SU1},
                    "dutyRole": "Lärare", "meta": meta("2026-08-01T08:00:00")}],
        "syllabuses": [{"id": S1, "subjectCode": "GRGRMAT01", "subjectName": "Matematik"}],
        "activities": [{"id": A1, "displayName": "Ma 7A", "groups": [{"id": G1}], "teachers": [{"duty": {"id": D1}}],
                        "syllabus": {"id": S1}, "startDate": "2026-08-17", "meta": meta("2026-08-01T08:00:00")}],
        # SS 12000 keeps the year (årskurs) on a student's enrolment: 7A at Björkskolan is year 7
        "persons": [{"id": P1, "civicNo": {"value": CIVIC}, "givenName": "Ada",
                     "enrolments": [enrolment(SU1, 7)]},
                    {"id": P2, "civicNo": {"value": CIVIC_DASH}, "enrolments": [enrolment(SU1, 7)]},
                    {"id": P3, "enrolments": [enrolment(SU2, 7, cancelled=True)]}],
    }


def ss12000_api(data: dict[str, list[dict]], deleted: dict[str, list[str]], calls: list[str]) -> FastAPI:
    app = FastAPI()

    def listing(entity: str):
        async def handler(request: Request) -> dict:
            calls.append(entity)
            limit = int(request.query_params.get("limit", 100))
            token = request.query_params.get("pageToken")
            after = request.query_params.get("meta.modified.after")
            if token is not None and after is not None:  # the specification: a page token carries the filter
                raise HTTPException(400, "pageToken cannot be combined with other parameters than limit")
            start, _, after = token.partition("|") if token is not None else ("0", "", after or "")
            items = data[entity]
            if after:
                cutoff = datetime.fromisoformat(after)
                items = [i for i in items if "meta" in i and
                         datetime.fromisoformat(i["meta"]["modified"]).replace(tzinfo=ZONE) > cutoff]
            page = items[int(start):int(start) + limit]
            body: dict = {"data": page}
            if int(start) + limit < len(items):
                body["pageToken"] = f"{int(start) + limit}|{after}"
            return body
        return handler

    for entity in ("organisations", "groups", "duties", "activities", "syllabuses", "persons"):
        app.add_api_route(f"/{entity}", listing(entity), methods=["GET"])

    @app.get("/groups/{ident}")
    async def one_group(ident: str) -> dict:
        calls.append(f"groups/{ident}")
        for group in data["groups"]:
            if group["id"] == ident:
                return group
        raise HTTPException(404)

    @app.get("/deletedEntities")
    async def deleted_entities(after: str) -> dict:
        calls.append("deletedEntities")
        return {"data": deleted}

    return app


class Reporting:
    """The in-process reporting app, and the consumer's part done by hand: outbox → directory."""

    def __init__(self, client: httpx.AsyncClient, database: Database) -> None:
        self.client, self.database, self.applied = client, database, 0

    async def import_from(self, source, since=None) -> dict:
        the_plan, deleted = read_and_plan(source, since=since, naive_zone=ZONE)
        loop = asyncio.get_running_loop()
        # `send` speaks sync httpx, the app is served in-process by the async client: run `send` in
        # a thread whose transport hands each request to the app on this loop
        with httpx.Client(transport=_Bridge(self.client, loop), base_url="http://reporting") as client:
            summary = await asyncio.to_thread(send, client, the_plan, deleted,
                                              removed_at=datetime.now(UTC), full=since is None)
        await self.apply_outbox()
        return {entity: dict(counts) for entity, counts in summary.items()}

    async def apply_outbox(self) -> None:
        async with self.database.sessions() as session:
            rows = (await session.execute(text("SELECT id, topic, payload FROM outbox WHERE id > :n ORDER BY id"),
                                          {"n": self.applied})).all()
        if not rows:
            return
        batch = [Delivered(decode_event(r.payload), r.topic, 0, r.id) for r in rows]
        async with self.database.sessions.begin() as session:
            await handler_registry()(session, batch)
        self.applied = rows[-1].id


class _Bridge(httpx.BaseTransport):
    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.client, self.loop = client, loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def forward() -> httpx.Response:
            answer = await self.client.request(request.method, request.url.raw_path.decode(),
                                               content=request.read(), headers=dict(request.headers))
            return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)
        return asyncio.run_coroutine_threadsafe(forward(), self.loop).result()


@pytest.fixture
def reporting(client, database) -> Reporting:
    return Reporting(client, database)


async def everything_stored(database: Database) -> str:
    """Every row of every table, as text: what a grep of the database would see."""
    async with database.sessions() as session:
        names = (await session.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars().all()
        out = []
        for name in names:
            rows = (await session.execute(text(f'SELECT * FROM "{name}"'))).all()
            out += [repr(tuple(r)) for r in rows]
            if name == "outbox":  # the events as they go onto the topic
                out += [r.payload.decode() for r in (await session.execute(text("SELECT payload FROM outbox")))]
    return "\n".join(out)


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """A real HTTP server for the app, in a thread: the importer talks HTTP to it."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def ss12000():
    data, deleted, calls = dataset(), {}, []
    with served(ss12000_api(data, deleted, calls)) as url:
        yield url, data, deleted, calls


async def test_import_over_http_paged_idempotent_incremental_and_no_civic_numbers(reporting, database, caplog,
                                                                                   capsys, ss12000):
    caplog.set_level(logging.DEBUG)
    url, data, deleted, calls = ss12000
    source = HttpSource(url, "secret-token", page_size=1)  # one item per page: paging is exercised
    first = await reporting.import_from(source)
    assert first["organisations"] == {"created": 4}
    assert first["groups"] == {"created": 2} and first["memberships"] == {"created": 3}
    assert first["duties"] == {"created": 1} and first["activities"] == {"created": 1}
    assert calls.count("groups") == 2  # two pages of one
    assert calls.count("persons") == 3  # only ids and enrolments are kept: see the civic number check below
    async with database.sessions() as session:
        units = {(r.unit_type, r.scope, r.unit_id): r for r in (await session.execute(text(
            "SELECT * FROM directory_units"))).all()}
        placement = dict((await session.execute(text(
            "SELECT school_unit_code, area_id FROM school_unit_placements"))).all())
        teaching = (await session.execute(text(
            "SELECT group_id, subject_code FROM directory_teaching_assignments"))).all()
        updated = (await session.execute(text(
            "SELECT updated_at FROM directory_units WHERE unit_id = :id"), {"id": SU1})).scalar_one()
    assert units[("group", "29990011", G1)].name == "7A" and units[("group", "29990022", G2)].name == "7A"
    # the year from the members' enrolments; none where the only enrolment is cancelled
    assert units[("group", "29990011", G1)].year == 7 and units[("group", "29990022", G2)].year is None
    assert placement == {"29990011": AREA}  # Granskolan hangs under the organiser: no area
    assert [tuple(t) for t in teaching] == [(G1, "GRGRMAT01")]
    assert updated == datetime(2026, 8, 1, 6, 0, tzinfo=UTC)  # 08:00 Swedish summer time

    again = await reporting.import_from(HttpSource(url, page_size=100))
    assert all(set(counts) == {"unchanged"} for counts in again.values()), again

    # incremental: Granskolan moves into the area, group 7A at Björkskolan is deleted
    data["organisations"][3] = {**data["organisations"][3], "parentOrganisation": {"id": AREA},
                                "meta": meta("2026-10-01T08:00:00")}
    deleted["groups"] = [G1]
    # a new activity for the unchanged group at Granskolan: the group is fetched by id
    data["activities"].append({"id": "act-2", "groups": [{"id": G2}], "teachers": [{"duty": {"id": D1}}],
                               "syllabus": {"id": S1}, "meta": meta("2026-10-02T08:00:00")})
    # the first activity touched since, nothing of ours in it changed: the filtered list spans two pages
    data["activities"][0] = {**data["activities"][0], "meta": meta("2026-10-03T08:00:00")}
    since = datetime(2026, 9, 1, tzinfo=UTC)
    later = await reporting.import_from(HttpSource(url, page_size=1), since=since)  # pages after a filtered first
    assert later["organisations"] == {"changed": 1, "unchanged": 3}  # the tree is always read whole
    assert later["deletedEntities"]["removed"] >= 2  # the group and its memberships
    # the deleted group's activity is left out and its teaching removed (the run reads the activities whole since
    # round 31: an unchanged activity naming a deleted group kept its teaching)
    assert later["activities"] == {"created": 1, "left out": 1, "removed": 1} and f"groups/{G2}" in calls
    async with database.sessions() as session:
        placement = dict((await session.execute(text(
            "SELECT school_unit_code, area_id FROM school_unit_placements"))).all())
        removed = (await session.execute(text(
            "SELECT removed FROM directory_units WHERE unit_id = :id"), {"id": G1})).scalar_one()
    assert placement == {"29990011": AREA, "29990022": AREA} and removed is True

    stored = await everything_stored(database)
    logs = caplog.text + capsys.readouterr().out
    for civic in (CIVIC, CIVIC_DASH, "Ada"):
        assert civic not in stored and civic not in logs
    assert P1 in stored  # the person's UUID is the pseudonymous student id


async def test_import_from_a_folder_dump(reporting, database, tmp_path):
    for entity, items in dataset().items():
        if entity == "groups":
            (tmp_path / entity).mkdir()
            for n, item in enumerate(items):
                (tmp_path / entity / f"{n:03d}.json").write_text(json.dumps({"data": [item]}), encoding="utf-8")
        else:
            (tmp_path / f"{entity}.json").write_text(json.dumps(items), encoding="utf-8")
    summary = await reporting.import_from(FolderSource(tmp_path))
    assert summary["groups"] == {"created": 2} and summary["memberships"] == {"created": 3}
    assert await reporting.import_from(FolderSource(tmp_path)) == {
        entity: {"unchanged": n} for entity, n in (("organisations", 4), ("groups", 2), ("memberships", 3),
                                                   ("duties", 1), ("activities", 1))}
    assert CIVIC not in await everything_stored(database)


def test_a_malformed_item_is_refused_on_its_own_and_an_unreadable_page_stops(tmp_path, ss12000):
    url, data, _, _ = ss12000
    # an item that breaks the specification but whose id reads is refused alone, named by its page and place (ss34)
    data["groups"][1] = {"id": G2, "displayName": "9B", "organisation": "not an object", "civicNo": CIVIC}
    the_plan, _ = read_and_plan(HttpSource(url, page_size=1), since=None, naive_zone=ZONE)
    refused = [(r.entity, r.id, r.reason) for r in the_plan.refused if r.id == G2]
    assert refused == [("groups", G2, "organisation: must be a JSON object, not a string (page 2, item 0)")], refused
    assert CIVIC not in repr(the_plan.refused)
    # an item whose id cannot be read still stops the import, naming the entity and the page
    data["groups"][1] = {"organisation": "not an object", "civicNo": CIVIC}
    with pytest.raises(SourceError) as error:
        read_and_plan(HttpSource(url, page_size=1), since=None, naive_zone=ZONE)
    assert str(error.value).startswith("groups, page 2, item 0: ") and CIVIC not in str(error.value)
    (tmp_path / "organisations.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SourceError, match="organisations, page organisations.json: not readable JSON"):
        read_and_plan(FolderSource(tmp_path), since=None, naive_zone=ZONE)


def test_a_group_at_an_unknown_school_unit_is_refused_with_a_reason(ss12000):
    url, data, _, _ = ss12000
    data["groups"].append({"id": "g-x", "displayName": "9X", "organisation": {"id": "nowhere"},
                           "startDate": str(date(2026, 8, 17))})
    the_plan, _ = read_and_plan(HttpSource(url, page_size=50), since=None, naive_zone=ZONE)
    assert [(r.entity, r.id, r.reason) for r in the_plan.refused] == [
        ("groups", "g-x", "organisation: its organisation is not a known Skolenhet")]


async def live(database: Database) -> dict[str, set]:
    async with database.sessions() as session:
        groups = set((await session.execute(text(
            "SELECT scope, unit_id FROM directory_units WHERE unit_type = 'group' AND NOT removed"))).all())
        members = set((await session.execute(text(
            "SELECT group_id, student_id FROM directory_memberships WHERE NOT removed"))).all())
        teaching = set((await session.execute(text(
            "SELECT group_id, teacher_id FROM directory_teaching_assignments WHERE NOT removed"))).all())
    return {"groups": {tuple(g) for g in groups}, "members": {tuple(m) for m in members},
            "teaching": {tuple(t) for t in teaching}}


async def test_a_full_import_over_http_removes_what_the_source_no_longer_has(reporting, database, ss12000):
    url, data, _, _ = ss12000
    await reporting.import_from(HttpSource(url, page_size=1))
    assert (await live(database))["members"] == {(G1, P1), (G1, P2), (G2, P3)}
    data["groups"][0]["groupMemberships"].pop()  # P2 left 7A at Björkskolan
    del data["groups"][1]  # 7A at Granskolan is gone, and with it P3's membership
    data["activities"].clear()  # nobody teaches anything any more
    summary = await reporting.import_from(HttpSource(url, page_size=1))
    assert summary["groups"] == {"unchanged": 1, "removed": 1}
    assert summary["memberships"] == {"unchanged": 1, "removed": 2}
    assert summary["activities"] == {"removed": 1}
    assert summary["organisations"] == {"unchanged": 4} and summary["duties"] == {"unchanged": 1}
    after = await live(database)
    assert after["groups"] == {("29990011", G1)} and after["members"] == {(G1, P1)} and not after["teaching"]
    async with database.sessions() as session:
        removal_events = sum(b"organisation.entity_removed" in bytes(p) for p in (await session.execute(text(
            "SELECT payload FROM outbox"))).scalars())
    assert removal_events == 4  # through reporting's outbox: a replay removes them too
    again = await reporting.import_from(HttpSource(url, page_size=100))
    assert all(set(counts) == {"unchanged"} for counts in again.values()), again  # idempotent


async def test_a_full_import_from_a_folder_removes_what_the_dump_no_longer_has_but_not_what_it_refused(
        reporting, database, tmp_path):
    def dump(data: dict) -> None:
        for entity, items in data.items():
            (tmp_path / f"{entity}.json").write_text(json.dumps({"data": items}), encoding="utf-8")

    data = dataset()
    dump(data)
    await reporting.import_from(FolderSource(tmp_path))
    data["groups"][0]["groupMemberships"] = data["groups"][0]["groupMemberships"][:1]
    data["groups"][1]["organisation"] = {"id": "not-a-school-unit"}  # refused this time: not a deletion
    dump(data)
    summary = await reporting.import_from(FolderSource(tmp_path))
    assert summary["memberships"] == {"unchanged": 1, "removed": 1}
    assert summary["groups"] == {"unchanged": 1, "refused": 1}
    assert (await live(database))["members"] == {(G1, P1), (G2, P3)}
    assert (await live(database))["groups"] == {("29990011", G1), ("29990022", G2)}
    dump(dataset())
    restored = await reporting.import_from(FolderSource(tmp_path))
    assert restored["memberships"] == {"unchanged": 2, "created": 1}
    # and in the directory (round 26: answered created, kept removed — the removal was newer than the source's time)
    assert (await live(database))["members"] == {(G1, P1), (G1, P2), (G2, P3)}


async def test_a_folder_dump_missing_an_entitys_file_removes_nothing(reporting, database, tmp_path):
    """A dump without groups.json read as "no groups": a full import removed both groups and their three
    memberships (fewer than the mass-removal guard's 50; seen on the old code). Now it stops before anything
    is sent, and the directory is as it was."""
    for entity, items in dataset().items():
        (tmp_path / f"{entity}.json").write_text(json.dumps({"data": items}), encoding="utf-8")
    await reporting.import_from(FolderSource(tmp_path))
    before = await live(database)
    assert len(before["groups"]) == 2 and len(before["members"]) == 3 and len(before["teaching"]) == 1
    (tmp_path / "groups.json").unlink()
    with pytest.raises(SourceError, match=r"^groups: neither groups.json nor groups/ in the folder"):
        await reporting.import_from(FolderSource(tmp_path))
    assert await live(database) == before


async def test_a_full_import_leaves_other_organisers_alone(reporting, database, tmp_path):
    data = dataset()
    for entity, items in data.items():
        (tmp_path / f"{entity}.json").write_text(json.dumps(items), encoding="utf-8")
    await reporting.import_from(FolderSource(tmp_path))
    other = tmp_path / "other"
    other.mkdir()
    (other / "organisations.json").write_text(json.dumps([
        {"id": "huv-2", "displayName": "Annanstad", "organisationType": "Huvudman", "municipalityCode": "2888"}]),
        encoding="utf-8")
    for entity in ("groups", "duties", "activities"):  # a dump says it has none: a missing file stops the import
        (other / f"{entity}.json").write_text("[]", encoding="utf-8")
    summary = await reporting.import_from(FolderSource(other))
    assert summary == {"organisations": {"created": 1}}
    assert (await live(database))["members"] == {(G1, P1), (G1, P2), (G2, P3)}


class _AnswerLostOnce(_Bridge):
    """Reporting applies the first chunk of changes, and its answer is lost on the way back (a read timeout)."""

    lost = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path == "/v1/directory/changes" and not self.lost:
            self.lost = True
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


async def test_a_chunk_whose_answer_was_lost_is_answered_as_applied_the_first_time(reporting, database, tmp_path):
    """The importer sends each chunk with an Idempotency-Key: asked again after a lost answer, reporting answers what
    the lost attempt did (a unit renamed: `changed`) instead of comparing again (`unchanged` for all four, which the
    importer could only count `unsure`), and publishes the rename once."""
    data = dataset()
    for entity, items in data.items():
        (tmp_path / f"{entity}.json").write_text(json.dumps(items), encoding="utf-8")
    await reporting.import_from(FolderSource(tmp_path))
    data["organisations"][2] = {**data["organisations"][2], "displayName": "Björkskolan i parken"}
    (tmp_path / "organisations.json").write_text(json.dumps(data["organisations"]), encoding="utf-8")
    the_plan, deleted = read_and_plan(FolderSource(tmp_path), since=None, naive_zone=ZONE)
    async with database.sessions() as session:
        events = (await session.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
    loop, retried = asyncio.get_running_loop(), []
    with httpx.Client(transport=_AnswerLostOnce(reporting.client, loop), base_url="http://reporting") as client:
        summary = await asyncio.to_thread(send, client, the_plan, deleted, removed_at=datetime.now(UTC), full=True,
                                          sleep=lambda _: None, retried=retried)
    assert dict(summary["organisations"]) == {"changed": 1, "unchanged": 3}, summary
    assert retried == []  # nothing maybe applied to say: reporting said what the attempt did
    async with database.sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM outbox"))).scalar_one() == events + 1


async def test_an_incremental_import_says_what_deleted_entities_it_could_not_remove(reporting, client, database,
                                                                                   token_issuer, ss12000):
    """Failed on the old code: a `--since` run under a platform token whose /deletedEntities named entities reporting
    held from before it recorded writers (migration 0026) removed 0 of them and said nothing. Now reporting counts
    them in its answer (`unrecorded_writer`) and the import says how many were left and what removes them: the
    organiser admin's token (a full import would not: reporting lists a platform only what it wrote)."""
    url, data, deleted, calls = ss12000
    await reporting.import_from(HttpSource(url, page_size=100))
    async with database.sessions.begin() as session:  # as if published before writers were recorded
        await session.execute(text("UPDATE directory_published SET written_by = NULL"))
    platform = token_issuer.mint(roles=["platform"], organisers=["2999", "3001", "2888"], client_id="importer")
    client.headers["Authorization"] = f"Bearer {platform}"
    deleted["groups"] = [G1]
    the_plan, gone = read_and_plan(HttpSource(url, page_size=100), since=datetime(2026, 9, 1, tzinfo=UTC),
                                   naive_zone=ZONE)
    said: list[str] = []
    with httpx.Client(transport=_Bridge(client, asyncio.get_running_loop()), base_url="http://reporting") as bridge:
        summary = await asyncio.to_thread(send, bridge, the_plan, gone, removed_at=datetime.now(UTC), full=False,
                                          said=said)
    assert summary["deletedEntities"]["removed"] == 0, summary
    left = [line for line in said if line.startswith("deletedEntities:")]
    assert len(left) == 1 and "were not removed" in left[0] and "organiser admin's token" in left[0], said
    async with database.sessions() as session:
        removed = (await session.execute(text(
            "SELECT removed FROM directory_units WHERE unit_id = :id"), {"id": G1})).scalar_one()
    assert removed is False
