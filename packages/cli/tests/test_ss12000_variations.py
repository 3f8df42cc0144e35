"""Real SS 12000 servers differ from the specification in small ways: the variations the importer
takes (page tokens, the shape of /deletedEntities, time zones, extra or missing fields), and the
ones it refuses with the entity and the page named. Also where a group's year comes from."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from ss12000_fixtures import HUV, SU, ZONE, refused_as_read
from styrkedja_cli.ss12000.command import read_and_plan
from styrkedja_cli.ss12000.mapping import Plan, Refused, group_years
from styrkedja_cli.ss12000.models import Activity, Group, Person, Syllabus, aware
from styrkedja_cli.ss12000.moves import check_not_mass_removal, vanished
from styrkedja_cli.ss12000.source import FolderSource, HttpSource, SourceError


def server(pages: dict[str, list[Any]]) -> tuple[HttpSource, list[str]]:
    """A served source: each entity answers its pages in turn (page n for pageToken n)."""
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        asked.append(str(request.url))
        if entity not in pages:
            return httpx.Response(200, json={"data": []})
        answer = pages[entity][int(request.url.params.get("pageToken", "0"))]
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://ss12000")
    # a 5xx is asked again after growing pauses (1 + 2 + 4 + 8 + 16 s): not waited out here
    return HttpSource("http://ss12000", client=client, page_size=1, sleep=lambda _: None), asked


def read(source: HttpSource, entity: str) -> list[Any]:
    return source.read(entity, None, lambda *_: None)


# -- page tokens ---------------------------------------------------------------------------------

@pytest.mark.parametrize("last", [{"data": [SU], "pageToken": None}, {"data": [SU], "pageToken": ""},
                                  {"data": [SU]}, [SU]])
def test_the_last_page_ends_with_a_null_empty_or_missing_token_or_is_a_bare_list(last) -> None:
    source, asked = server({"organisations": [{"data": [HUV], "pageToken": "1"}, last]})
    assert [o.id for o in read(source, "organisations")] == ["huv", "su"] and len(asked) == 2


def test_a_repeated_or_non_text_page_token_is_refused_naming_the_page() -> None:
    source, _ = server({"organisations": [{"data": [HUV], "pageToken": "1"}, {"data": [SU], "pageToken": "1"}]})
    with pytest.raises(SourceError, match="organisations, page 2: the server repeated a pageToken"):
        read(source, "organisations")
    source, _ = server({"organisations": [{"data": [HUV], "pageToken": 1}]})
    with pytest.raises(SourceError, match="organisations, page 1: pageToken must be a string"):
        read(source, "organisations")


def test_a_page_that_is_not_a_listing_or_not_json_or_an_error_is_refused_naming_the_page() -> None:
    for answer, reason in (({"items": []}, "expected a list or an object with a 'data' list"),
                           (httpx.Response(200, content=b"<html>"), "not JSON"),
                           (httpx.Response(500), "HTTP 500")):
        source, _ = server({"groups": [{"data": [], "pageToken": "1"}, answer]})
        with pytest.raises(SourceError, match=f"groups, page 2: {reason}"):
            read(source, "groups")


# -- /deletedEntities ------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    {"data": {"groups": ["g1"], "activitites": ["a1"], "persons": ["p1"]}},  # the spec (its own typo too)
    {"groups": ["g1"], "activities": [{"id": "a1"}], "duties": None},  # no envelope, {id} objects, null
    {"data": [{"id": "g1", "type": "groups"}, {"id": "a1", "type": "activities"},
              {"id": "p1", "type": "persons"}]},  # a flat list of typed ids
])
def test_deleted_entities_in_the_shapes_servers_send(body) -> None:
    source, _ = server({"deletedEntities": [body]})
    assert source.deleted(datetime(2026, 9, 1, tzinfo=UTC)) == ["g1", "a1"]  # never a person


def test_deleted_entities_are_paged_and_a_bad_one_is_refused() -> None:
    source, asked = server({"deletedEntities": [{"data": {"groups": ["g1"]}, "pageToken": "1"},
                                                {"data": {"groups": ["g2"]}}]})
    since = datetime(2026, 9, 1, tzinfo=UTC)
    assert source.deleted(since) == ["g1", "g2"] and "after=2026-08-31T23%3A59%3A59%2B00%3A00" in asked[0]
    for body, reason in (({"data": {"groups": "g1"}}, "'groups' must be a list"),
                         ({"data": {"groups": [17]}}, "'groups' holds an id that is not a string"),
                         ({"data": "nothing"}, "expected an object of id lists")):
        source, _ = server({"deletedEntities": [body]})
        with pytest.raises(SourceError, match=f"deletedEntities, page 1: {reason}"):
            source.deleted(since)


# -- time zones ----------------------------------------------------------------------------------

def test_timestamps_with_and_without_a_zone() -> None:
    utc = UTC
    assert aware("2026-08-01T08:00:00", ZONE) == datetime(2026, 8, 1, 6, 0, tzinfo=utc)  # said: Swedish time
    assert aware("2026-01-15T08:00:00", ZONE) == datetime(2026, 1, 15, 7, 0, tzinfo=utc)  # winter time
    assert aware("2026-08-01T08:00:00Z", ZONE) == datetime(2026, 8, 1, 8, 0, tzinfo=utc)
    assert aware("2026-08-01T08:00:00.1234567+02:00", ZONE) == datetime(2026, 8, 1, 6, 0, 0, 123456, tzinfo=utc)
    assert aware("2026-08-01T08:00:00-0500", ZONE) == datetime(2026, 8, 1, 8, 0, tzinfo=timezone(-timedelta(hours=5)))


def test_timestamps_with_a_lower_case_t_or_z_are_rfc_3339() -> None:
    """RFC 3339 §5.6 lets "T" and "Z" be lower case (some servers write them so): read, not a refused page.
    Failed on the old code: the page was refused ("not an RFC 3339 timestamp")."""
    assert aware("2026-08-01t08:00:00z", ZONE) == datetime(2026, 8, 1, 8, 0, tzinfo=UTC)
    assert aware("2026-08-01t08:00:00.5+02:00", ZONE) == datetime(2026, 8, 1, 6, 0, 0, 500000, tzinfo=UTC)
    source, _ = server({"organisations": [{"data": [{**HUV, "meta": {"created": "2026-08-01t08:00:00z",
                                                                     "modified": "2026-08-02T08:00:00z"}}]}]})
    assert [o.meta.modified for o in read(source, "organisations")] == ["2026-08-02T08:00:00z"]


def test_a_timestamp_that_is_not_one_refuses_the_item_not_the_run_later() -> None:
    source, _ = server({"organisations": [{"data": [{**HUV, "meta": {"modified": "last tuesday"}}]}]})
    assert re.match("organisations huv: meta.modified: .*RFC 3339", refused_as_read(source, "organisations"))


# -- extra and missing fields --------------------------------------------------------------------

def test_unknown_fields_are_ignored_and_optional_ones_may_be_missing(tmp_path) -> None:
    # as in Skolverket's reference API: no start dates on the group or its memberships
    group = {"id": "g1", "displayName": "7A", "organisation": {"id": "su", "displayName": "x"},
             "meta": {"created": "2026-08-10T23:30:00Z"}, "vendorExtension": {"anything": [1, 2]},
             "groupMemberships": [{"person": {"id": "p1", "civicNo": "x"}}]}
    undated = {"id": "g2", "displayName": "7B", "organisation": {"id": "su"},
               "groupMemberships": [{"person": {"id": "p2"}}]}
    (tmp_path / "organisations.json").write_text(json.dumps({"data": [HUV, SU], "extra": True}), encoding="utf-8")
    (tmp_path / "groups.json").write_text(json.dumps([group, undated]), encoding="utf-8")
    # none of the optional entities' files (persons, syllabuses); none of the duties and activities, said so
    for entity in ("duties", "activities"):
        (tmp_path / f"{entity}.json").write_text('{"data": []}', encoding="utf-8")
    the_plan, deleted = read_and_plan(FolderSource(tmp_path), since=None, naive_zone=ZONE)
    assert deleted == []
    # the membership starts the (Swedish) day the group was created in the source
    assert [(c["data"]["student_id"], c["data"]["start_date"]) for c in the_plan.changes["memberships"]] == [
        ("p1", "2026-08-11")]
    assert [(r.entity, r.id, r.reason) for r in the_plan.refused] == [
        ("memberships", "g2/p2", "groupMemberships[0].startDate, startDate: Input should be a valid date")]  # nothing says when: refused
    assert the_plan.changes["groups"][0]["data"]["year"] is None  # nothing says which year


def test_a_missing_required_field_refuses_the_item_without_echoing_it() -> None:
    source, _ = server({"groups": [{"data": [{"id": "g1", "organisation": {"id": "su"},
                                              "civicNo": "201001012383"}]}]})
    assert refused_as_read(source, "groups") == "groups g1: displayName: Field required (page 1, item 0)"


def test_a_server_that_holds_back_persons_costs_only_the_years() -> None:
    source, _ = server({"organisations": [{"data": [HUV, SU]}], "persons": [httpx.Response(403)],
                        "groups": [{"data": [{"id": "g1", "displayName": "7A", "organisation": {"id": "su"}}]}]})
    the_plan, _ = read_and_plan(source, since=None, naive_zone=ZONE)
    assert [c["data"]["unit_id"] for c in the_plan.changes["groups"]] == ["g1"]
    source, _ = server({"persons": [httpx.Response(500)]})
    with pytest.raises(SourceError, match="persons, page 1: HTTP 500"):
        read_and_plan(source, since=None, naive_zone=ZONE)


# -- a group's year (årskurs) --------------------------------------------------------------------

def _group(gid: str, members: list[str], unit: str = "su") -> Group:
    return Group.model_validate({"id": gid, "displayName": gid, "organisation": {"id": unit},
                                 "startDate": "2026-08-17",
                                 "groupMemberships": [{"person": {"id": p}} for p in members]})


def _person(pid: str, *enrolments: tuple[str, int, dict]) -> Person:
    return Person.model_validate({"id": pid, "civicNo": {"value": "201001012383"}, "enrolments": [
        {"enroledAt": {"id": unit}, "schoolYear": year, "schoolType": "GR", **extra}
        for unit, year, extra in enrolments]})


def test_a_groups_year_is_the_year_most_of_its_members_are_enrolled_in_at_its_school_unit() -> None:
    persons = [_person("a", ("su", 7, {})), _person("b", ("su", 7, {})), _person("c", ("su", 8, {})),
               _person("d", ("other", 9, {}), ("su", 8, {"cancelled": True})),  # neither counts here
               _person("e", ("su", 6, {"endDate": "2026-06-10"}), ("su", 7, {"startDate": "2026-08-01"})),
               _person("f", ("su", 10, {}))]
    years = group_years([_group("7A", ["a", "b", "c", "d", "e"]), _group("mixed", ["a", "c"]),
                         _group("none", ["d"]), _group("gy4", ["f"])], persons, [], [])
    assert years == {"7A": 7}  # mixed: no majority; none: no enrolment there; gy4: year 10 is out of range


def test_without_enrolments_a_single_year_syllabus_gives_the_year() -> None:
    syllabuses = [Syllabus.model_validate({"id": "ma9", "startSchoolYear": 9, "endSchoolYear": 9}),
                  Syllabus.model_validate({"id": "ma79", "startSchoolYear": 7, "endSchoolYear": 9})]

    def activity(aid: str, syllabus: str, group: str) -> Activity:
        return Activity.model_validate({"id": aid, "groups": [{"id": group}], "syllabus": {"id": syllabus}})

    years = group_years([_group("9B", []), _group("x", []), _group("7A", ["a"])],
                        [_person("a", ("su", 7, {}))],
                        [activity("1", "ma9", "9B"), activity("2", "ma9", "x"), activity("3", "ma79", "x"),
                         activity("4", "ma9", "7A")], syllabuses)
    assert years == {"9B": 9, "7A": 7}  # x: two different answers; 7A: the enrolments win


# -- a full import's removals ----------------------------------------------------------------------

def test_what_vanished_is_what_reporting_holds_that_was_not_sent_nor_refused() -> None:
    """A refused group keeps all it held (m4); a refused membership only its own key (m3, `Plan.refused_memberships`),
    not its group's other memberships — m2, dropped from g1's list, goes (round 32: the refusal of g1/p9 kept it)."""
    the_plan = Plan(refused=[Refused("memberships", "g1/p9", "start_date: invalid"),
                             Refused("groups", "g2", "displayName: empty")], refused_memberships={"m3"})
    sent = {("2999", "unit:group:29990011:g1"), ("2999", "membership:m1")}
    holdings = {"2999": [("unit:group:29990011:g1", "g1"), ("membership:m1", "g1"), ("membership:m2", "g1"),
                         ("membership:m3", "g1"), ("membership:m4", "g2"), ("duty:d1", "d1")]}
    assert vanished(the_plan, sent, holdings) == [("2999", "membership:m2"), ("2999", "duty:d1")]


def test_a_source_lacking_most_of_an_organiser_removes_nothing_unless_asked() -> None:
    holdings = {"2999": [(f"membership:m{i}", "g") for i in range(100)], "2888": [("duty:d", "d")]}
    check_not_mass_removal([("2999", f"membership:m{i}") for i in range(50)], holdings)  # half: fine
    check_not_mass_removal([("2888", "duty:d")], holdings)  # one of one: too few to be a mistake
    with pytest.raises(SourceError, match="lacks 51 of the 100 entities reporting holds for 2999"):
        check_not_mass_removal([("2999", f"membership:m{i}") for i in range(51)], holdings)


def test_names_are_read_in_unicode_nfc_however_the_server_typed_them(tmp_path) -> None:
    """"Å" as one character or as "A" and a combining ring (a server on a Mac, a name pasted from a PDF) is one
    name: the plan carries NFC, so a re-import typed the other way is the same change (nothing changed)."""
    import unicodedata

    plans = []
    for form in ("NFC", "NFD"):
        folder = tmp_path / form
        folder.mkdir()
        unit = SU | {"displayName": unicodedata.normalize(form, "Åby skola")}
        group = {"id": "g1", "displayName": unicodedata.normalize(form, "7Ä Öst"), "organisation": {"id": "su"},
                 "meta": {"created": "2026-08-10T23:30:00Z"}, "groupMemberships": [{"person": {"id": "p1"}}]}
        (folder / "organisations.json").write_text(json.dumps({"data": [HUV, unit]}), encoding="utf-8")
        (folder / "groups.json").write_text(json.dumps([group]), encoding="utf-8")
        for entity in ("duties", "activities"):
            (folder / f"{entity}.json").write_text("[]", encoding="utf-8")
        plans.append(read_and_plan(FolderSource(folder), since=None, naive_zone=ZONE)[0])
    nfc, nfd = plans
    names = sorted(c["data"]["name"] for c in nfd.changes["organisations"] + nfd.changes["groups"])
    assert names == ["7Ä Öst", "Kommunen", "Åby skola"]
    assert all(unicodedata.is_normalized("NFC", n) for n in names)

    def content(plan: Plan) -> list[dict[str, Any]]:  # (without meta, a unit's `updated_at` is the read's moment)
        return [{**c["data"], "updated_at": None} for c in plan.changes["organisations"] + plan.changes["groups"]]

    assert content(nfd) == content(nfc)


def test_null_for_an_optional_field_is_the_same_as_leaving_it_out() -> None:
    """Servers whose serialisers write absent fields as null (`"groupMemberships": null`, `"cancelled": null`,
    `"teachers": null`): read as absent, not a refused page; null for a required field still refuses it.
    Failed on the old code: "Input should be a valid list" for the whole page."""
    group = {"id": "g1", "displayName": "7A", "organisation": {"id": "su"}, "groupMemberships": None,
             "startDate": None, "meta": {"created": "2026-08-10T08:00:00Z", "modified": None}}
    person = {"id": "p1", "enrolments": [{"enroledAt": {"id": "su"}, "schoolYear": None, "cancelled": None}]}
    activity = {"id": "a1", "groups": None, "teachers": None, "syllabus": None, "organisation": None}
    source, _ = server({"groups": [{"data": [group]}], "persons": [{"data": [person, {"id": "p2",
                                                                                      "enrolments": None}]}],
                        "activities": [{"data": [activity]}]})
    assert [g.memberships for g in read(source, "groups")] == [()]  # held as tuples (`models.Compact`)
    assert [[e.cancelled for e in p.enrolments] for p in read(source, "persons")] == [[False], []]
    assert [(a.groups, a.teachers) for a in read(source, "activities")] == [((), ())]
    refused, _ = server({"groups": [{"data": [{**group, "organisation": None}]}]})
    assert refused_as_read(refused, "groups").startswith("groups g1: organisation: Field required")


def test_a_page_whose_data_is_null_is_an_empty_page() -> None:
    """`{"data": null}` (an empty list serialised as null), last or with a pageToken: no items, paging goes on.
    Failed on the old code: "expected a list or an object with a 'data' list"."""
    source, _ = server({"organisations": [{"data": None, "pageToken": "1"}, {"data": [HUV], "pageToken": "2"},
                                          {"data": None}]})
    assert [o.id for o in read(source, "organisations")] == ["huv"]


def test_a_page_file_whose_data_is_null_is_an_empty_page(tmp_path) -> None:
    (tmp_path / "organisations").mkdir()
    (tmp_path / "organisations" / "1.json").write_text('{"data": null, "pageToken": null}', encoding="utf-8")
    (tmp_path / "organisations" / "2.json").write_text(json.dumps({"data": [HUV]}), encoding="utf-8")
    assert [o.id for o in FolderSource(tmp_path).read("organisations", None, lambda *_: None)] == ["huv"]
    (tmp_path / "organisations" / "3.json").write_text('{"data": 5}', encoding="utf-8")
    with pytest.raises(SourceError, match="expected a list"):
        FolderSource(tmp_path).read("organisations", None, lambda *_: None)


# -- numbers for text, empty dates (round 7: decided by the specification) --------------------------------------


@pytest.mark.parametrize(("field", "number"), [("schoolUnitCode", 29990011), ("municipalityCode", 180),
                                               ("organisationNumber", 2120000142), ("id", 7)])
def test_a_number_where_the_specification_has_text_is_refused_naming_the_field(tmp_path, field, number) -> None:
    """SS 12000 has codes and ids as strings; a server that sends a number may have lost leading zeros
    (municipality 0180 as 180), so it is not turned into text: the item is refused naming the field and why (an
    id's stops the import: nothing names the item). The same from a folder file (streamed: ijson reads a number as a
    Decimal). Before: pydantic's "Input should be a valid string" over HTTP, and for a Decimal the same without
    saying that a number is the trouble."""
    item = {**(SU if field == "schoolUnitCode" else HUV), field: number}
    source, _ = server({"organisations": [{"data": [item]}]})
    (tmp_path / "organisations.json").write_text(json.dumps({"data": [item]}), encoding="utf-8")
    if field == "id":
        with pytest.raises(SourceError, match=rf"organisations, page 1, item 0: {field}: .*must be text .*not a number"):
            read(source, "organisations")
        with pytest.raises(SourceError, match=rf"{field}: .*must be text .*not a number"):
            FolderSource(tmp_path).read("organisations", None, lambda *_: None)
        return
    assert re.match(rf"organisations {item['id']}: {field}: .*must be text .*not a number",
                    refused_as_read(source, "organisations"))
    assert re.match(rf"organisations {item['id']}: {field}: .*must be text .*not a number",
                    refused_as_read(FolderSource(tmp_path), "organisations"))


@pytest.mark.parametrize("blank", ["", "  "])
def test_an_empty_optional_date_is_absent(tmp_path, blank) -> None:
    """`format: date` makes "" no date, but serialisers write it for a date they do not have, and it holds
    nothing to lose: read as absent (like null), over HTTP and from a folder. Failed before: the page was
    refused ("input is too short")."""
    unit = {**SU, "startDate": blank, "endDate": blank}
    group = {"id": "g1", "displayName": "7A", "organisation": {"id": "su"}, "startDate": blank,
             "groupMemberships": [{"person": {"id": "p1"}, "startDate": "2026-08-17", "endDate": blank}]}
    source, _ = server({"organisations": [{"data": [HUV, unit]}], "groups": [{"data": [group]}]})
    read_unit = read(source, "organisations")[1]
    assert (read_unit.start_date, read_unit.end_date, read_unit.school_unit_code) == (None, None, "29990011")
    [read_group] = read(source, "groups")
    assert read_group.start_date is None and read_group.memberships[0].end_date is None
    assert str(read_group.memberships[0].start_date) == "2026-08-17"
    (tmp_path / "groups.json").write_text(json.dumps([group]), encoding="utf-8")
    assert FolderSource(tmp_path).read("groups", None, lambda *_: None)[0].start_date is None


@pytest.mark.parametrize(("item", "rule"), [
    ({**SU, "endDate": "2026-13-01"}, r"endDate: Value error, not a real day"),
    # pydantic took these as seconds since 1970: 1970-01-01 and 2026-08-17 (before: imported so)
    ({**SU, "endDate": 0}, "endDate: Value error, must be a date written YYYY-MM-DD .*not a number"),
    ({**SU, "startDate": "1786924800"}, "startDate: Value error, must be a date written YYYY-MM-DD .*not digits alone"),
    ({**SU, "startDate": "17/08/2026"}, r"startDate: Value error, must be a date \(RFC 3339 full-date YYYY-MM-DD"),
    ({**SU, "schoolUnitCode": True}, "schoolUnitCode: Input should be a valid string"),
])
def test_a_date_that_is_not_one_or_an_empty_required_text_is_refused(item, rule) -> None:
    """A date given as a number (or digits) is refused naming the field; before, pydantic read it as seconds since
    1970 (`\"endDate\": 0` ended the unit in 1970). A text in another format is no date either (a date-time is one:
    test_ss12000_spec)."""
    source, _ = server({"organisations": [{"data": [item]}]})
    assert re.match(f"organisations su: {rule}", refused_as_read(source, "organisations"))  # (its page: session 34)
