"""Round 27a: the directory's write doors at the LARGEST input each accepts — large but valid.

`make bench --full` (290 organisers) posted 4,870 directory changes (the limit is 5,000) and got a 500: one multi-row
`INSERT ... VALUES` of `directory_published` carried 8 columns x 4,870 rows = 38,960 bind parameters, over the 32,767
one statement may have (asyncpg's InterfaceError). Every statement of the write path now sends a batch's rows as one
array per column (`unnest`), whatever the batch's size. Each test here sends a door's maximum (`MAX_ITEMS`), all
items valid and distinct, and checks everything was taken: 200 and every item published (or removed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from styrkedja_reporting.directory.writes import MAX_ITEMS

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

MEMBERSHIP = "se.styrkedja.organisation.membership_upserted.v1"


def memberships(count: int, *, organiser: str = "2999", group: str = "7A",
                at: str = "2026-09-01T08:00:00+00:00") -> list[dict]:
    """`count` distinct memberships, each from a source id of its own."""
    return [{"type": MEMBERSHIP, "source_id": f"src-m{n}", "data": {
        "membership_id": f"m{n}", "organiser_id": organiser, "school_unit_code": "29990001", "group_id": group,
        "student_id": f"s{n}", "start_date": "2026-08-15", "updated_at": at}} for n in range(count)]


async def _live(database) -> int:
    async with database.sessions() as session:
        return (await session.execute(text(
            "SELECT count(*) FROM directory_published WHERE content_hash <> 'removed'"))).scalar_one()


async def test_a_full_batch_of_new_entities_is_published(client, database) -> None:
    answer = await client.post("/v1/directory/changes", json={"items": memberships(MAX_ITEMS)})
    assert answer.status_code == 200, answer.text[:2000]
    assert answer.json()["created"] == MAX_ITEMS
    assert await _live(database) == MAX_ITEMS


def _memberships_of(batch: int, count: int = MAX_ITEMS) -> list[dict]:
    """Batch `batch`'s `count` memberships, the n-th of every batch from the same source id `src-n` (an SS 12000
    source id may stand for several entities: a person's duties, a group's memberships)."""
    return [{**item, "source_id": f"src-{n}", "data": {**item["data"], "membership_id": f"b{batch}m{n}"}}
            for n, item in enumerate(memberships(count))]


async def test_a_full_batch_of_changed_entities_and_the_same_content_from_another_client(
        client, bare_client, database, token_issuer) -> None:
    made = await client.post("/v1/directory/changes", json={"items": memberships(MAX_ITEMS)})
    assert made.status_code == 200, made.text[:2000]
    # all changed: another group, a later time
    moved = await client.post("/v1/directory/changes", json={
        "items": memberships(MAX_ITEMS, group="7B", at="2026-09-02T08:00:00+00:00")})
    assert moved.status_code == 200, moved.text[:2000]
    assert moved.json()["changed"] == MAX_ITEMS
    # all unchanged, sent by another client of the organiser: it holds them now (one update of 5,000 keys)
    other = token_issuer.mint(roles=["platform"], organisers=["2999"], subject="p-2", client_id="p-2")
    again = await bare_client.post("/v1/directory/changes", json={
        "items": memberships(MAX_ITEMS, group="7B", at="2026-09-02T08:00:00+00:00")},
        headers={"Authorization": f"Bearer {other}"})
    assert again.status_code == 200, again.text[:2000]
    assert again.json()["unchanged"] == MAX_ITEMS
    async with database.sessions() as session:
        assert (await session.execute(text(
            "SELECT count(*) FROM directory_published WHERE written_by = 'p-2'"))).scalar_one() == MAX_ITEMS


async def test_a_full_removal_by_entities_removes_them_all(client, database) -> None:
    made = await client.post("/v1/directory/changes", json={"items": memberships(MAX_ITEMS)})
    assert made.status_code == 200, made.text[:2000]
    removed = await client.post("/v1/directory/removals", json={
        "entities": [{"organiser_id": "2999", "entity_key": f"membership:m{n}"} for n in range(MAX_ITEMS)],
        "removed_at": "2026-09-03T08:00:00+00:00"})
    assert removed.status_code == 200, removed.text[:2000]
    assert removed.json()["removed"] == MAX_ITEMS
    assert await _live(database) == 0


async def test_a_full_removal_by_source_ids_of_many_entities_each(client, database) -> None:
    """5,000 source ids (the most a removal names), each of 4 entities: 20,000 removals in one transaction — the
    published rows looked up by (organiser, key) took 2 parameters per entity, 40,000 (a 500)."""
    for batch in range(4):
        made = await client.post("/v1/directory/changes", json={"items": _memberships_of(batch)})
        assert made.status_code == 200, made.text[:2000]
    assert await _live(database) == 4 * MAX_ITEMS
    removed = await client.post("/v1/directory/removals", json={
        "source_ids": [f"src-{n}" for n in range(MAX_ITEMS)], "removed_at": "2026-09-03T08:00:00+00:00"})
    assert removed.status_code == 200, removed.text[:2000]
    assert removed.json()["removed"] == 4 * MAX_ITEMS
    assert await _live(database) == 0


async def test_an_ss12000_import_of_a_page_of_the_largest_size_the_importer_asks_for(client, database) -> None:
    """A page of 10,000 groups (`--page-size`' bound), sent in the importer's chunks and applied as the consumer would
    in ONE batch of 10,000 events (as a rebuild reads the log: the directory's upserts took 11 parameters per row);
    then all of them deleted by an incremental import's /deletedEntities (10,000 source ids, in chunks)."""
    from styrkedja_cli.ss12000.command import PAGE_SIZE_MAX
    from styrkedja_cli.ss12000.source import HttpSource

    from .test_ss12000_import import HUV, Reporting, meta, served, ss12000_api

    unit = "0f0e0d0c-0000-4000-8000-000000000003"
    data: dict[str, list[dict]] = {
        "organisations": [
            {"id": HUV, "displayName": "Mittköpings kommun", "organisationType": "Huvudman",
             "municipalityCode": "2999", "meta": meta("2026-08-01T08:00:00")},
            {"id": unit, "displayName": "Björkskolan", "organisationType": "Skolenhet", "schoolUnitCode": "29990011",
             "parentOrganisation": {"id": HUV}, "meta": meta("2026-08-01T08:00:00")}],
        "groups": [{"id": f"9a9a9a9a-0000-4000-8000-{n:012d}", "displayName": f"G{n}", "groupType": "Klass",
                    "organisation": {"id": unit}, "startDate": "2026-08-17", "meta": meta("2026-08-01T08:00:00"),
                    "groupMemberships": []} for n in range(PAGE_SIZE_MAX)],
        "duties": [], "activities": [], "syllabuses": [], "persons": []}
    deleted: dict[str, list[str]] = {}
    reporting = Reporting(client, database)
    with served(ss12000_api(data, deleted, [])) as url:
        source = HttpSource(url, page_size=PAGE_SIZE_MAX)
        first = await reporting.import_from(source)
        assert first["groups"] == {"created": PAGE_SIZE_MAX}
        async with database.sessions() as session:
            assert (await session.execute(text(
                "SELECT count(*) FROM directory_units WHERE unit_type = 'group' AND NOT removed"))).scalar_one() \
                == PAGE_SIZE_MAX
        deleted["groups"] = [group["id"] for group in data["groups"]]
        later = await reporting.import_from(source, since=datetime(2026, 9, 1, tzinfo=UTC))
        assert later["deletedEntities"]["removed"] == PAGE_SIZE_MAX
    async with database.sessions() as session:
        assert (await session.execute(text(
            "SELECT count(*) FROM directory_units WHERE unit_type = 'group' AND NOT removed"))).scalar_one() == 0


def _longest_units(count: int) -> list[dict]:
    """Areas and school units (every other) with every field at its largest: ids of 64 characters, names of 200
    characters of 4 UTF-8 bytes, the largest roster size."""
    def unit(n: int) -> dict:
        data = {"unit_type": "area", "unit_id": f"{n:064d}", "organiser_id": "2999", "parent_id": "2999",
                "name": "\N{GRINNING FACE}" * 199 + "A", "updated_at": "2026-09-01T08:00:00.123456+00:00"}
        if n % 2:
            data |= {"unit_type": "school_unit", "school_unit_code": f"{29_000_000 + n}", "roster_size": 2_147_483_647}
        return {"type": "se.styrkedja.organisation.unit_upserted.v1", "source_id": f"{n:064d}", "data": data}

    return [unit(n) for n in range(count)]


async def test_a_full_batch_with_every_text_at_its_longest_meets_the_body_limit_first(client, database) -> None:
    """The rule (docs/platforms.md, "How much one request may carry"): both bounds hold, whichever is met first
    refuses the batch, nothing stored, naming it — a 413 `max_body_bytes` here, no 500 and no 422 — and the same
    items in two requests are taken whole, and applied (the directory's columns hold every value at its largest)."""
    from styrkedja_kit.settings import ServiceSettings

    from .test_ss12000_import import Reporting

    items = _longest_units(MAX_ITEMS)
    limit = ServiceSettings.model_fields["max_request_body_bytes"].default
    assert len(json.dumps({"items": items}, ensure_ascii=False).encode()) > limit
    refused = await client.post("/v1/directory/changes", json={"items": items})
    assert refused.status_code == 413, refused.text[:2000]
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("body", "max_body_bytes")]
    assert await _live(database) == 0
    for half in (items[:MAX_ITEMS // 2], items[MAX_ITEMS // 2:]):
        taken = await client.post("/v1/directory/changes", json={"items": half})
        assert taken.status_code == 200 and taken.json()["created"] == len(half), taken.text[:2000]
    assert await _live(database) == MAX_ITEMS
    await Reporting(client, database).apply_outbox()  # as the consumer would, in one batch
    async with database.sessions() as session:
        assert (await session.execute(text(
            "SELECT count(*), min(char_length(name)), max(roster_size) FROM directory_units "
            "WHERE unit_type IN ('area', 'school_unit') AND NOT removed"))).one() == (MAX_ITEMS, 200, 2_147_483_647)


def test_the_importers_chunk_of_the_longest_changes_fits_the_body_limit() -> None:
    """`styrkedja import ss12000` sends `CHUNK` changes a request: of the longest a change may be (a unit's every
    text at its longest, 4 UTF-8 bytes a character), as httpx encodes them, within the default body limit — the
    importer never meets a 413 it could not avoid."""
    import httpx

    from styrkedja_cli.ss12000.command import CHUNK
    from styrkedja_kit.settings import ServiceSettings

    longest = {"type": "se.styrkedja.organisation.unit_upserted.v1", "source_id": "s" * 64, "data": {
        "unit_type": "school_unit", "unit_id": "u" * 64, "organiser_id": "123456-7890", "parent_id": "p" * 64,
        "name": "\N{GRINNING FACE}" * 200, "school_unit_code": "29990011", "roster_size": 2_147_483_647,
        "updated_at": "2026-09-01T08:00:00.123456+00:00"}}
    body = httpx.Request("POST", "http://reporting/v1/directory/changes", json={"items": [longest] * CHUNK}).content
    assert len(body) <= ServiceSettings.model_fields["max_request_body_bytes"].default


async def test_a_batch_placing_more_school_units_than_one_statement_had_parameters_for(db) -> None:
    """The consumer's batch (up to `consumer_max_records`, 100,000; a rebuild's batches are as large) of 11,000
    school units placed in one area: their placements were one multi-row VALUES of 3 parameters per code, 33,000 —
    the batch failed (asyncpg's InterfaceError), and was applied again in halves, each in a transaction of its own,
    on every such batch; then all moved out of the area, their placements dropped."""
    from .test_directory import Feeder, unit

    codes = [f"{29_000_000 + n}" for n in range(11_000)]
    feed = Feeder(db)
    await feed([unit("area", "north", "2999", "2999"),
                *[unit("school_unit", f"su-{code}", "2999", "north", code=code) for code in codes]])
    async with db.sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM school_unit_placements WHERE area_id = 'north'"))
                ).scalar_one() == len(codes)
    await feed([unit("school_unit", f"su-{code}", "2999", "2999", code=code, at=1) for code in codes])
    async with db.sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM school_unit_placements"))).scalar_one() == 0


async def test_a_full_batch_of_bad_items_is_one_422_naming_them(client, database) -> None:
    """5,000 items each breaking a rule: a 422 listing the first 1,000 by field and rule and then how many more
    (`more_errors`), as every batch door does, nothing stored. It listed 100 and said nothing of the other 4,900: a
    client correcting what it was told met the next 100 on its next try, fifty times."""
    items = memberships(MAX_ITEMS)
    for item in items:
        item["data"]["school_unit_code"] = "2999"  # not 8 digits
    refused = await client.post("/v1/directory/changes", json={"items": items})
    assert refused.status_code == 422, refused.text[:2000]
    errors = refused.json()["errors"]
    assert [e["field"] for e in errors[:-1]] == [f"items.{n}.data.school_unit_code" for n in range(1000)]
    assert (errors[-1]["rule"], errors[-1]["message"].split()[0]) == ("more_errors", str(MAX_ITEMS - 1000))
    assert await _live(database) == 0
