"""The items the importer holds once a page is validated (`models.Compact`, made by `models.Shared`): every field
the models read is there with its value, the plan made of them is the plan made of the models, and values many items
hold alike are held once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ss12000_fixtures import ZONE
from styrkedja_cli.ss12000.mapping import Changes, plan
from styrkedja_cli.ss12000.models import ENTITIES, Compact, Model, Shared
from styrkedja_cli.ss12000.source import FolderSource

META = {"created": "2026-06-01T10:00:00Z", "modified": "2026-08-01T10:00:00+02:00"}
TERM = {"startDate": "2026-08-17", "endDate": "2027-06-11"}
#: a source using every field the models read: the tree (Huvudman, area, two school units), a group stating its
#: members and one whose members only persons state, persons with enrolments and `_embedded.groupMemberships`,
#: duties, a single-year syllabus and an activity teaching both groups
SOURCE: dict[str, list[dict[str, Any]]] = {
    "organisations": [
        {"id": "huv", "displayName": "Kommunen", "organisationType": "Huvudman", "municipalityCode": "2999",
         "organisationNumber": "212000-2999", "meta": META},
        {"id": "vo", "displayName": "Grundskola", "organisationType": "Verksamhetsområde",
         "parentOrganisation": {"id": "huv"}, "meta": META},
        {"id": "su1", "displayName": "Skola 1", "organisationType": "Skolenhet", "schoolUnitCode": "29990011",
         "parentOrganisation": {"id": "vo"}, **TERM, "meta": META},
        {"id": "su2", "displayName": "Skola 2", "organisationType": "Skolenhet", "schoolUnitCode": "29990012",
         "parentOrganisation": {"id": "vo"}, "meta": META}],
    "groups": [
        {"id": "g1", "displayName": "7A", "groupType": "Klass", "organisation": {"id": "su1"}, **TERM, "meta": META,
         "groupMemberships": [{"person": {"id": "p1"}, **TERM}, {"person": {"id": "p2"}, "startDate": "2026-09-01"}]},
        {"id": "g2", "displayName": "8B", "groupType": "Undervisning", "organisation": {"id": "su2"}, **TERM}],
    "duties": [{"id": "d1", "person": {"id": "t1"}, "dutyAt": {"id": "su1"}, "dutyRole": "Lärare", **TERM,
                "meta": META}],
    "syllabuses": [{"id": "s1", "subjectCode": "MA", "startSchoolYear": 8, "endSchoolYear": 8}],
    "activities": [{"id": "a1", "displayName": "Matte", "groups": [{"id": "g1"}, {"id": "g2"}],
                    "teachers": [{"duty": {"id": "d1"}, "startDate": "2026-08-20"}], "syllabus": {"id": "s1"},
                    "organisation": {"id": "su1"}, **TERM, "meta": META}],
    "persons": [
        {"id": "p1", "civicNo": {"value": "19121212-1212"}, "meta": META,
         "enrolments": [{"enroledAt": {"id": "su1"}, "schoolYear": 7, "schoolType": "GR", **TERM}],
         "_embedded": {"groupMemberships": [{"group": {"id": "g1"}, **TERM}, {"group": {"id": "g2"}, **TERM}]}},
        {"id": "p2", "enrolments": [{"enroledAt": {"id": "su1"}, "schoolYear": 7, "schoolType": "GR",
                                     "cancelled": True}],
         "groupMemberships": [{"group": {"id": "g1"}, "startDate": "2026-09-01"}]}],
}


def _models() -> dict[str, list[Model]]:
    return {entity: [model.model_validate(item) for item in SOURCE[entity]] for entity, model in ENTITIES.items()}


def _same(model: Any, held: Any, where: str) -> None:
    """`held` carries every field of `model` with an equal value, nested items and lists alike."""
    if isinstance(model, Model):
        assert isinstance(held, Compact), where
        assert held.model is type(model), where
        assert held.model_fields_set == model.model_fields_set, where
        for name in type(model).model_fields:
            _same(getattr(model, name), getattr(held, name), f"{where}.{name}")
    elif isinstance(model, list):
        assert isinstance(held, tuple) and len(held) == len(model), where
        for n, (one, other) in enumerate(zip(model, held, strict=True)):
            _same(one, other, f"{where}[{n}]")
    else:
        assert held == model and type(held) is type(model), where


def _plan(read: dict[str, list[Any]]) -> Any:
    return plan(read["organisations"], read["groups"], read["duties"], read["activities"], read["syllabuses"],
                naive_zone=ZONE, now=datetime(2026, 9, 1, tzinfo=UTC), persons=read["persons"])


def test_a_compact_item_carries_every_field_of_its_model_with_its_value() -> None:
    shared = Shared()
    for entity, models in _models().items():
        for n, model in enumerate(models):
            _same(model, shared.compact(model), f"{entity}[{n}]")


def test_the_plan_of_compact_items_is_the_plan_of_the_models(tmp_path: Path) -> None:
    """The importer's use of the items (the mapping, a person's `stated_memberships`, `model_fields_set`) reads the
    compact ones as the models: what is sent, refused and said is the same. Read as `--dir` reads a folder."""
    for entity, items in SOURCE.items():
        (tmp_path / f"{entity}.json").write_text(json.dumps({"data": items}), encoding="utf-8")
    source = FolderSource(tmp_path)
    read = {entity: source.read(entity, None, lambda *_: None) for entity in ENTITIES}
    assert all(isinstance(item, Compact) for items in read.values() for item in items)
    expected = _plan(_models())
    assert sum(len(changes) for changes in expected.changes.values()) >= 10  # the source is imported, not refused
    assert _plan(read) == expected


def test_what_items_hold_alike_is_held_once() -> None:
    shared = Shared()
    groups = [shared.compact(model) for model in _models()["groups"]]
    persons = [shared.compact(model) for model in _models()["persons"]]
    g1, g2 = groups
    assert g1.start_date is g2.start_date and g1.start_date == date(2026, 8, 17)  # type: ignore[attr-defined]
    assert persons[0].enrolments[0].enroled_at is persons[1].enrolments[0].enroled_at  # type: ignore[attr-defined]
    assert g1.model_fields_set is not g2.model_fields_set  # g2 states no memberships: another set
    assert shared.compact(_models()["groups"][0]).model_fields_set is g1.model_fields_set
    assert shared.compact(_models()["groups"][0]) == g1 and hash(shared.compact(_models()["groups"][0])) == hash(g1)
    assert shared.compact(_models()["groups"][0]) != g2


def test_a_plans_changes_are_held_as_tuples_and_read_as_the_dicts_sent() -> None:
    """`mapping.Changes`: each change held as a tuple of its values (equal texts one object, the data's keys one tuple
    per shape), read as the dict it was planned as — a copy, a slice a list of them."""
    first = {"type": "t", "data": {"start_date": "2026-08-17", "year": 7}, "source_id": "g1"}
    second = {"type": "t", "data": {"start_date": "".join(["2026-08-", "17"]), "year": None}, "source_id": None}
    changes = Changes([first], shared={})
    changes.append(second)
    assert changes[0] == first and changes[1] == second and changes[:] == [first, second] == changes
    assert changes._rows[0][3] is changes._rows[1][3] and changes._rows[0][2] is changes._rows[1][2]
    changes[0]["data"]["year"] = 9  # a read is a copy
    assert changes[0] == first
    changes.remove(first)
    assert list(changes) == [second] and len(changes) == 1 and json.dumps(list(changes))


def test_the_plan_holds_its_changes_compact() -> None:
    the_plan = _plan(_models())
    assert the_plan.changes and all(isinstance(changes, Changes) for changes in the_plan.changes.values())


def test_a_membership_change_is_held_in_fewer_than_200_bytes_beyond_its_own_id() -> None:
    """A 100 MB organiser's plan (686,415 changes, most of them memberships) held 370 MB: 566 bytes a change. Each
    change's own id (`membership_id`, a uuid5 text of 85 bytes) is its own; the rest is shared or one flat row.
    Failed on the old code: 250 bytes beyond the id (the values a tuple inside the row, and every id an entry of
    the plan's shared texts); now 151."""
    import tracemalloc
    import uuid

    count = 20_000
    # made before counting: the ids' own bytes are not counted, and a group's id is one object, as an item's
    ids = [str(uuid.uuid4()) for _ in range(count)]
    groups, students = [f"g{n}" for n in range(count // 25)], [f"p{n}" for n in range(5000)]
    changes = Changes(shared={})
    tracemalloc.start()
    try:
        for n, ident in enumerate(ids):
            changes.append({"type": "GroupMembershipUpsertedV1", "source_id": groups[n // 25], "data": {
                "membership_id": ident, "organiser_id": "2999", "school_unit_code": "29990011",
                "group_id": groups[n // 25], "student_id": students[n % 5000], "start_date": "2025-08-18",
                "end_date": "2026-06-12", "updated_at": "2025-08-01T10:00:00+00:00"}})
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held / count < 200, f"{held / count:.0f} bytes a change"


def _memberships(count: int, per_group: int = 25) -> list[dict[str, Any]]:
    """`count` membership changes as a plan makes them, `per_group` of each group one after another."""
    import uuid

    groups, students = [f"g{n}" for n in range(count // per_group + 1)], [f"p{n}" for n in range(5000)]
    return [{"type": "GroupMembershipUpsertedV1", "source_id": groups[n // per_group], "data": {
        "membership_id": str(uuid.uuid4()), "organiser_id": "2999", "school_unit_code": "29990011",
        "group_id": groups[n // per_group], "student_id": students[n % 5000], "start_date": "2025-08-18",
        "end_date": "2026-06-12" if n % 3 else None, "updated_at": "2025-08-01T10:00:00+00:00"}}
        for n in range(count)]


def test_a_groups_memberships_are_held_by_column_in_under_100_bytes_each_with_their_own_ids() -> None:
    """A 100 MB organiser's plan held 336 MB (peak 473): each membership a flat row (a tuple of 12, 152 bytes) and
    its own id a text (85 bytes). A group's memberships, planned one after another, are now held by column (what
    they share once, the rest a pointer a column, each id its 16 bytes; a block of 25 costs some 1.7 KB besides): 91
    bytes a membership here, bench/results/ss12000-24.json. Failed on the old code: 240 bytes each. Read back they are the changes appended, in their order, a chunk across groups
    too, and a plan's organisation units removed and inserted as before."""
    import tracemalloc

    count = 20_000
    changes_in = _memberships(count)
    # the texts the changes share (student ids, dates) are made before counting, as a plan's items hold them already
    tracemalloc.start()
    try:
        changes = Changes(changes_in, shared={})
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held / count < 100, f"{held / count:.0f} bytes a change"
    assert len(changes) == count and list(changes) == changes_in
    assert changes[10:520] == changes_in[10:520] and changes[-1] == changes_in[-1] and changes[37] == changes_in[37]
    assert changes[5:40:7] == changes_in[5:40:7]
    changes.remove(changes_in[30])
    changes.insert(0, changes_in[30])
    assert list(changes) == [changes_in[30], *changes_in[:30], *changes_in[31:]]


def test_a_change_whose_own_id_is_no_canonical_uuid_or_whose_values_change_type_reads_back_as_given() -> None:
    """A block keeps an id as its 16 bytes only when its text is the UUID's canonical one (an id in upper case read
    back in lower would be another change's key at reporting), and compares a key's values with == only (a bool and
    an int of one key, which the contract does not make, would be told apart all the same here as a tuple row).
    Failed on the old code as the test above: these changes are held apart from the blocks there."""
    first, second, third = ({"type": "t", "source_id": "g1", "data": {"membership_id": ident, "year": year}}
                            for ident, year in (("a", 1), ("0B5E1C2A-5512-4000-8000-000000012000", 1),
                                                ("0b5e1c2a-5512-4000-8000-000000012000", None)))
    changes = Changes([first, second, third, *_memberships(50)], shared={})
    assert list(changes) == [first, second, third, *changes[3:]] and changes[:3] == [first, second, third]
    assert sum(not isinstance(row, tuple) for row in changes._rows) >= 2  # the memberships by column


def test_where_each_membership_is_stated_is_held_in_under_80_bytes_while_the_plan_is_made() -> None:
    """`mapping.members_of` makes a `Member` of every membership (its entry and where it stands): with a dict and
    its path's text ("groupMemberships[17]") each, a 100 MB organiser's held 118 MB while it was planned. Now a
    slotted object, its path made when a refusal names it: 70 bytes. Failed on the old code: 171 bytes each."""
    import tracemalloc

    from styrkedja_cli.ss12000.mapping import Plan, members_of

    shared = Shared()
    groups = [shared.compact(ENTITIES["groups"].model_validate({
        "id": f"g{n}", "displayName": f"G{n}", "organisation": {"id": "su1"},
        "groupMemberships": [{"person": {"id": f"p{n}-{m}"}} for m in range(25)]})) for n in range(800)]
    tracemalloc.start()
    try:
        members = members_of(groups, [], Plan())  # type: ignore[arg-type]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held / 20_000 < 80, f"{held / 20_000:.0f} bytes a membership"
    assert members["g3"][17].path == "groupMemberships[17]" and members["g3"][17].membership.person.id == "p3-17"


def _held_keys_reporting(held: list[tuple[str, str]]) -> Any:
    """A reporting that held `held` ((entity key, source id) pairs) and takes every change sent as created."""
    import httpx

    def reporting(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/directory/held":
            return httpx.Response(200, json={"items": [{"entity_key": k} for k, _ in held],
                                             "source_ids": [s for _, s in held], "next_after": None})
        if request.url.path == "/v1/directory/removals":
            gone = json.loads(request.content)["entities"]
            return httpx.Response(200, json={"removed": len(gone), "items": [
                {"status": "removed", "entity_key": e["entity_key"]} for e in gone]})
        items = json.loads(request.content)["items"]
        return httpx.Response(200, json={"created": len(items), "changed": 0, "removed": 0, "unchanged": 0, "items": [
            {"status": "created", "entity_key": f"membership:{i['data']['membership_id']}" if "membership_id" in i["data"]
             else "unit:organiser::2999"} for i in items]})

    return reporting


def send_peak_growth_a_change() -> float:
    """What 10,000 membership changes more add to `command.send`'s peak, in bytes a change. Run in an interpreter of
    its own (see the test below): what earlier code in the same process left behind (caches, freed arenas) moved it
    by some 20 bytes a change. The collector runs first: garbage of the imports still waiting for it, collected
    mid-`send` or not, moved the figure 196 -> 235 with the same code, by how many objects the imports made (session
    38: one more module; session 39: the same code installed editable rather than on PYTHONPATH)."""
    import gc
    import tracemalloc
    import uuid

    import httpx

    from styrkedja_cli.ss12000.command import send
    from styrkedja_cli.ss12000.mapping import Plan

    reporting = _held_keys_reporting([(f"membership:{uuid.uuid4()}", "g-old"), ("unit:group:29990011:g0", "g0")])

    def peak_of(count: int) -> int:
        the_plan = Plan()
        the_plan.changes["organisations"] = Changes([{"type": "OrganisationUnitUpsertedV1", "source_id": "huv", "data": {
            "unit_type": "organiser", "unit_id": "2999", "organiser_id": "2999"}}], shared={})
        the_plan.changes["memberships"] = Changes(_memberships(count), shared={})
        with httpx.Client(transport=httpx.MockTransport(reporting), base_url="http://reporting") as client:
            gc.collect()
            tracemalloc.start()
            try:
                summary = send(client, the_plan, [], removed_at=datetime.now(UTC), full=True, allow_mass_removal=True)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        assert summary["memberships"] == Counter({"created": count, "removed": 1})  # what was held and not sent
        return peak

    return (peak_of(20_000) - peak_of(10_000)) / 10_000


def test_what_send_holds_of_the_keys_it_sent_is_about_half_what_it_was() -> None:
    """`command.send` keeps what reporting named for each change sent, to tell what vanished (held as the import began
    and not sent) and a retried chunk's own earlier changes. A set of every (organiser, key) pair held a tuple and the
    key's text a change (a first import's 100 MB organiser: some 150 MB beside its plan). Now the keys it may be
    asked after by name (what reporting held, units) as they are, any other as its hash in this run, in an array. Measured as what
    10,000 changes more add to the peak (a chunk's own objects are the same at any size): failed on the old code,
    309 bytes a change; now 89 (a hash is 8 bytes of one array). Measured in a fresh interpreter: after this file's
    other tests in one process it read 236-239 (CI, session 24). With the collector run first (session 39: garbage
    of the imports collected mid-`send` or not moved it 196 <-> 235 with the same code) it reads 23; a set of
    (organiser, key) tuples alone, without the keys' texts, grows the peak by 264 bytes an entry, so the bound of 100
    still refuses the old way. What vanished is found as before."""
    import subprocess
    import sys
    import uuid

    from styrkedja_cli.ss12000.command import Sent
    from styrkedja_cli.ss12000.mapping import Plan
    from styrkedja_cli.ss12000.moves import vanished

    here = Path(__file__).resolve().parent
    measured = subprocess.run(
        [sys.executable, "-c", "import test_ss12000_compact as t; print(t.send_peak_growth_a_change())"],
        cwd=here, capture_output=True, text=True, timeout=300, check=False)
    assert measured.returncode == 0, measured.stderr[-2000:]
    more = float(measured.stdout.strip().splitlines()[-1])
    assert more < 100, f"{more:.0f} bytes a change"

    held = [(f"membership:{uuid.uuid4()}", "g-old"), ("unit:group:29990011:g0", "g0")]
    sent = Sent({"2999": held})
    sent.update([("2999", held[1][0]), ("2999", "membership:new"), ("2998", held[0][0])])
    assert ("2999", "membership:new") in sent and ("2999", held[1][0]) in sent and ("2998", held[0][0]) in sent
    assert ("2999", held[0][0]) not in sent and ("2999", "membership:other") not in sent
    assert set(sent) == {("2999", held[1][0])}  # iterated: the keys kept as they are (a unit's, what was held)
    assert vanished(Plan(), sent, {"2999": held}) == [("2999", held[0][0])]
