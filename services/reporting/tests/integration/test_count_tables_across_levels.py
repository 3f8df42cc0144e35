"""The support figures, the roster sizes and the figures' coverage take one decision across levels, over
HTTP with real tokens (`access.decision.counts_decision`).

The organiser has two areas of one school unit each (north 12 students, south 15) and a school unit of
3 students placed in no area: no area is small, but the organiser's total (30) less the two areas'
gives the 3 away — which a decision per table of one level (the old `protect_rows`) never saw. Now the
small school unit forces a complement in the organiser's equation: an area (the smaller, north) is
withheld — in the support summary and tables (JSON and CSV), in the directory's roster sizes, and in
the coverage's roster size (the students with a result are another decision: shown) — while the
organiser's total stays shown."""

from __future__ import annotations

import csv
import io
from datetime import date
from uuid import uuid5

import pytest

from styrkedja_contracts import OrganisationUnitUpsertedV1, new_event
from styrkedja_kit.db import Database

from .test_directory import NS, T0, membership, published, unit
from .test_support import feed
from .test_support_disclosure import _support as support_of

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "2998"
WITHHELD = "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"
#: school unit code → (area or None, students; with results?)
UNITS = {"44444444": ("north", 12, True), "55555555": ("south", 15, True), "66666666": (None, 3, False)}
DAY = "2026-10-01"


def _support(code: str, student: str) -> object:
    return support_of(code, student, organiser_id=ORG, tag="levels")


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    events = [unit("organiser", ORG, ORG, None)]
    for code, (area, n, results) in UNITS.items():
        if area:
            events.append(unit("area", area, ORG, ORG))
        events += [unit("school_unit", f"su-{code}", ORG, area or ORG, code=code),
                   new_event(OrganisationUnitUpsertedV1(  # the source's own roster size, on the tree
                       unit_type="group", unit_id="7A", organiser_id=ORG, parent_id=f"su-{code}", name="7A",
                       school_unit_code=code, year=7, roster_size=n, updated_at=T0), source="/test")]
        for i in range(n):
            student = f"s-{code}-{i}"
            events += [membership(f"m-{code}-{i}", ORG, code, "7A", student, date(2026, 8, 17)),
                       _support(code, student)]
            if results:
                events.append(published(uuid5(NS, f"levels-a-{student}"), 1, "E", ORG, code, "7A", student))
    await feed(database, [events])
    yield database
    await database.dispose()


def _headers(token_issuer, role: str, **claims) -> dict:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], **claims)}


async def _get(client, path: str, headers: dict, **params) -> object:
    response = await client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response


async def test_support_withholds_an_area_so_the_unplaced_school_unit_cannot_be_worked_out(fed, bare_client,
                                                                                        token_issuer):
    politician = _headers(token_issuer, "politician", organisers=[ORG])
    got = {}
    for area in ("north", "south"):
        body = (await _get(bare_client, "/v1/support/summary", politician, level="area", unit_id=area,
                           organiser_id=ORG)).json()
        got[area] = body["students_with_kind_active"]["special_support"]
        if got[area] is None:
            assert body["withheld"]["students_with_kind_active.special_support"] == WITHHELD
            assert body["share_with_kind_active"]["special_support"] is None
    # before: 12 and 15 shown, and 30 − 12 − 15 = 3, the school unit in no area
    assert got == {"north": None, "south": 15}
    total = (await _get(bare_client, "/v1/support/summary", politician, level="organiser", unit_id=ORG,
                        organiser_id=ORG)).json()
    assert total["students_with_kind_active"]["special_support"] == 30
    # the table and its CSV take the same decision
    text = (await _get(bare_client, "/v1/support/kinds", politician, level="area", unit_id="north",
                       organiser_id=ORG, format="csv")).content.decode("utf-8-sig")
    line = next(r for r in csv.DictReader(io.StringIO(text), delimiter=";") if r["Insats"] == "special_support")
    assert line["Elever med aktiv insats"] == ".."
    # the organiser admin sees every count
    admin = _headers(token_issuer, "organiser_admin", organisers=[ORG])
    body = (await _get(bare_client, "/v1/support/summary", admin, level="area", unit_id="north",
                       organiser_id=ORG)).json()
    assert body["students_with_kind_active"]["special_support"] == 12 and "withheld" not in body


async def test_roster_sizes_and_coverage_withhold_the_same_area(fed, bare_client, token_issuer):
    politician = _headers(token_issuer, "politician", organisers=[ORG])
    sizes = (await _get(bare_client, "/v1/directory/roster-sizes", politician, level="area", organiser_id=ORG,
                        on=DAY)).json()
    assert {s["unit_id"]: (s["students"], s["reason"]) for s in sizes} == {
        "north": (None, WITHHELD), "south": (15, "EXISTS")}
    public = _headers(token_issuer, "public")
    organiser = (await _get(bare_client, "/v1/directory/roster-sizes", public, level="organiser",
                            organiser_id=ORG, on=DAY)).json()
    assert organiser == [{"level": "organiser", "unit_id": ORG, "students": 30, "reason": "EXISTS"}]
    # coverage shows the students with a result (no small cell among them) but the roster size as the
    # directory's decision has it — and the share, which would give the size back
    params = {"level": "area", "organiser_id": ORG, "school_year": "2026/27", "term": "HT",
              "subject_code": "GRGRMAT01", "on": DAY}
    cover = {r["unit_id"]: r for r in (await _get(bare_client, "/v1/figures/coverage", politician,
                                                  **params)).json()["rows"]}
    assert cover["north"]["with_result"] == 12 and cover["north"]["roster_size"] is None
    assert cover["north"]["share"] is None and cover["north"]["withheld"]["roster_size"] == WITHHELD
    assert (cover["south"]["with_result"], cover["south"]["roster_size"]) == (15, 15)
    text = (await _get(bare_client, "/v1/figures/coverage", politician, **params, format="csv")
            ).content.decode("utf-8-sig")
    lines = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    north = next(r for r in lines if "north" in r.values())
    assert north["Elever enligt register"] == ".."
    admin = _headers(token_issuer, "organiser_admin", organisers=[ORG])
    exact = (await _get(bare_client, "/v1/directory/roster-sizes", admin, level="area", organiser_id=ORG,
                        on=DAY)).json()
    assert {s["unit_id"]: s["students"] for s in exact} == {"north": 12, "south": 15}


async def test_the_tree_shows_the_sources_roster_sizes_only_at_levels_the_reader_sees_exactly(fed, bare_client,
                                                                                             token_issuer):
    def sizes(units: list, out: dict) -> dict:
        for u in units:
            if u["unit_type"] == "group":
                out[u["school_unit_code"]] = u["roster_size"]
            sizes(u["children"], out)
        return out

    admin = _headers(token_issuer, "organiser_admin", organisers=[ORG])
    tree = (await _get(bare_client, f"/v1/directory/organisers/{ORG}/tree", admin)).json()
    assert sizes(tree, {}) == {code: n for code, (_, n, _) in UNITS.items()}
    # the politician reads no group level: a group's 3 on the tree would give the withheld sizes away
    politician = _headers(token_issuer, "politician", organisers=[ORG])
    tree = (await _get(bare_client, f"/v1/directory/organisers/{ORG}/tree", politician)).json()
    assert sizes(tree, {}) == dict.fromkeys(UNITS)
    one = (await _get(bare_client, "/v1/directory/units/7A", politician, organiser_id=ORG, unit_type="group",
                      school_unit_code="66666666")).json()
    assert one["roster_size"] is None


async def test_the_directory_reads_are_kept_per_reader_class_and_equal_the_route(settings, fed, bare_client,
                                                                                token_issuer):
    """The roster sizes and the tree are answered from memory on unchanged state (they were read anew on
    every request: 37 ms p99 at 32 clients), each reader class its own answer: the politician's kept
    sizes withhold north, the admin's do not, and both equal what the route answers uncached."""
    from styrkedja_devstack.testing import service_client
    from styrkedja_reporting.access.answers import ANSWERS

    politician = _headers(token_issuer, "politician", organisers=[ORG])
    admin = _headers(token_issuer, "organiser_admin", organisers=[ORG])
    reads = [("/v1/directory/roster-sizes", {"level": "area", "organiser_id": ORG, "on": DAY}),
             (f"/v1/directory/organisers/{ORG}/tree", {})]
    uncached = settings.model_copy(update={"read_cache_enabled": False})
    async with service_client("styrkedja_reporting", uncached) as plain:
        for headers in (politician, admin, politician):
            for path, params in reads:
                first = await _get(bare_client, path, headers, **params)
                hits = ANSWERS.hits
                kept = await _get(bare_client, path, headers, **params)
                assert ANSWERS.hits == hits + 1, path  # from memory
                assert kept.content == first.content == (await _get(plain, path, headers, **params)).content
    sizes = {r["unit_id"]: r["students"] for r in (await _get(bare_client, *reads[0][:1], politician,
                                                              **reads[0][1])).json()}
    assert sizes == {"north": None, "south": 15}
    assert {r["unit_id"]: r["students"] for r in (await _get(bare_client, *reads[0][:1], admin,
                                                             **reads[0][1])).json()} == {"north": 12, "south": 15}


async def test_the_roster_decisions_of_many_organisers_are_read_in_one_lookup(fed):
    """The public's coverage of every organiser (no organiser named) takes each organiser's roster
    decision: those not kept are read together — the statements do not grow with the organisers (they
    were three lookups and a placement read per organiser) — and each equals the organiser's own."""
    from sqlalchemy import event

    from styrkedja_kit.auth import Level
    from styrkedja_kit.consumer import Delivered
    from styrkedja_reporting.access import decision
    from styrkedja_reporting.access.disclosure import DisclosureRules
    from styrkedja_reporting.directory.disclose import roster_decision, roster_slice, roster_withheld
    from styrkedja_reporting.main import handler_registry

    others = [f"29{n:02d}" for n in range(80, 84)]
    events = []
    for n, other in enumerate(others):  # small organisers: one school unit each, of 2 to 5 students
        code = f"7{n}000000"
        events += [unit("organiser", other, other, None), unit("school_unit", f"su-{code}", other, other, code=code)]
        events += [membership(f"m-{code}-{i}", other, code, "7A", f"s-{code}-{i}", date(2026, 8, 17))
                   for i in range(2 + n)]
    async with fed.sessions.begin() as session:
        await handler_registry()(session, [Delivered(e, "styrkedja.organisation", 0, 90_000 + i)
                                           for i, e in enumerate(events)])
    every, day, rules = frozenset(Level) - {Level.STUDENT}, date.fromisoformat(DAY), DisclosureRules()
    statements: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        statements.append(statement)

    async def withheld(organisers: list[str]) -> set[str]:
        decision._DECISIONS.clear()
        statements.clear()
        event.listen(fed.engine.sync_engine, "before_cursor_execute", note)
        try:
            async with fed.sessions() as session:
                return await roster_withheld(session, "organiser", None, organisers, day, every, rules)
        finally:
            event.remove(fed.engine.sync_engine, "before_cursor_execute", note)

    await withheld([ORG])
    one = len(statements)
    hidden = await withheld([ORG, *others])
    assert len(statements) == one, statements
    decision._DECISIONS.clear()
    async with fed.sessions() as session:
        alone = {o for o in [ORG, *others] if (await roster_decision(session, o, day, every, rules)).withheld(
            roster_slice(day), "organiser", o)}
    assert hidden == alone and set(others) <= hidden and ORG not in hidden  # 2–5 students: small


# --- a batch committed during a read: the counts and their decision are one state --------------------------------
#: The batch: the school unit in no area grows from 3 students to 15 (memberships and support). Taken on the new
#: rows, the decision withholds nothing (no count is small): a read pairing it with counts read before the batch
#: shows north's 12, and the organiser's 30 less north's 12 and south's 15 gives the 3 away.
GROWN = range(3, 15)


def _grown_batch() -> list:
    code = "66666666"
    events: list = []
    for i in GROWN:
        student = f"s-{code}-{i}"
        events += [membership(f"m-{code}-{i}", ORG, code, "7A", student, date(2026, 8, 17)), _support(code, student)]
    return events


def _batch_first(monkeypatch, module, name: str, database: Database) -> list:
    """Replace `module.name` (the decision a route takes after reading its counts) by one that first has a batch
    (`_grown_batch`) committed, once; the batches still to commit (empty: it was)."""
    real, batches = getattr(module, name), [_grown_batch()]

    async def batch_first(*args, **kwargs):
        if batches:
            await feed(database, [batches.pop()])
        return await real(*args, **kwargs)

    monkeypatch.setattr(module, name, batch_first)
    return batches


async def test_a_batch_committed_during_a_support_read_never_pairs_its_counts_with_the_new_decision(
        fed, bare_client, token_issuer, monkeypatch):
    """The support figures and their decision are one state (one REPEATABLE READ snapshot): north withheld as
    before the batch, in the summary and the table, though the batch commits between their reads."""
    from styrkedja_reporting.support import disclose

    politician = _headers(token_issuer, "politician", organisers=[ORG])
    batches = _batch_first(monkeypatch, disclose, "shown", fed)
    body = (await _get(bare_client, "/v1/support/summary", politician, level="area", unit_id="north",
                       organiser_id=ORG)).json()
    assert not batches and body["students_with_kind_active"]["special_support"] is None, body
    assert body["withheld"]["students_with_kind_active.special_support"] == WITHHELD



async def test_a_batch_committed_during_a_support_table_read_never_pairs_its_counts_with_the_new_decision(
        fed, bare_client, token_issuer, monkeypatch):
    """As the summary (above), a table in CSV (the exports go through the same route): north is `..`."""
    from styrkedja_reporting.support import disclose

    politician = _headers(token_issuer, "politician", organisers=[ORG])
    batches = _batch_first(monkeypatch, disclose, "shown", fed)
    text = (await _get(bare_client, "/v1/support/kinds", politician, level="area", unit_id="north",
                       organiser_id=ORG, format="csv")).content.decode("utf-8-sig")
    line = next(r for r in csv.DictReader(io.StringIO(text), delimiter=";") if r["Insats"] == "special_support")
    assert not batches and line["Elever med aktiv insats"] == "..", line


async def test_a_batch_committed_during_a_roster_size_read_never_pairs_its_sizes_with_the_new_decision(
        fed, bare_client, token_issuer, monkeypatch):
    """The roster sizes and their decision are one state: north withheld as before the batch."""
    from styrkedja_reporting.directory import routes

    politician = _headers(token_issuer, "politician", organisers=[ORG])
    batches = _batch_first(monkeypatch, routes, "roster_withheld", fed)
    sizes = (await _get(bare_client, "/v1/directory/roster-sizes", politician, level="area", organiser_id=ORG,
                        on=DAY)).json()
    assert not batches and {s["unit_id"]: (s["students"], s["reason"]) for s in sizes} == {
        "north": (None, WITHHELD), "south": (15, "EXISTS")}
