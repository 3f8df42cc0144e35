"""The fields the importer reads against SS 12000 2.1.0's OpenAPI (`ss12000_spec/schemas.json`), round 24: what the
specification allows is read as it means it, and what it does not is refused naming the endpoint, the item, the
field and the rule, never read otherwise unsaid. Each test failed on the code before it, as its docstring says.

* `Enrolment.schoolYear`, `Syllabus.startSchoolYear`/`endSchoolYear` are `type: integer` (0 to 10) and
  `Enrolment.cancelled` is `type: boolean`: pydantic's lax mode read `"7"` as 7, `true` as year 1, `11` and `-1` as
  years, and `"yes"`, `"false"`, `1` as booleans — a server's own spelling of them became a year or a cancellation
  unsaid;
* `Meta.created`/`modified` are `format: date-time`: `datetime.fromisoformat` took ISO 8601's other forms too (a date
  alone, a week date, an hour alone, the basic format), none of which is an RFC 3339 date-time;
* a bearer token given with what comes along by mistake (its header's "Bearer ", a line end from a file) is sent
  alone; one with a character no header takes is a usage error naming the flag (it was a UnicodeEncodeError, said as
  a fault of the importer's), never quoted.

The server is an `httpx.MockTransport` handler: no network, no pauses."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ss12000_fixtures import ZONE, refused_as_read
from styrkedja_cli.main import app
from styrkedja_cli.ss12000 import command
from styrkedja_cli.ss12000.command import read_and_plan
from styrkedja_cli.ss12000.source import FolderSource, HttpSource, SourceError

BASE = "http://ss12000.example/v2.0"
ENROLMENT = {"enroledAt": {"id": "su"}, "schoolType": "GR", "startDate": "2026-08-17"}


def serve(entity: str, items: list[Any]) -> HttpSource:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/v2.0/{entity}"
        return httpx.Response(200, json={"data": items})

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    return HttpSource(BASE, client=client, sleep=lambda _: None)


def read(source: HttpSource | FolderSource, entity: str) -> list[Any]:
    return source.read(entity, None, lambda *_: None)


@pytest.mark.parametrize(("entity", "item", "said"), [
    ("persons", {"id": "p1", "enrolments": [{**ENROLMENT, "schoolYear": "7"}]},
     r"enrolments\[0\]\.schoolYear: Value error, must be an integer \(a JSON number, as SS 12000 has it\), not text"),
    ("persons", {"id": "p1", "enrolments": [{**ENROLMENT, "schoolYear": True}]},
     r"enrolments\[0\]\.schoolYear: Value error, must be an integer .*, not a boolean"),
    ("persons", {"id": "p1", "enrolments": [{**ENROLMENT, "schoolYear": 11}]},
     r"enrolments\[0\]\.schoolYear: Value error, must be 0 to 10 \(SS 12000's school years\)"),
    ("persons", {"id": "p1", "enrolments": [{**ENROLMENT, "schoolYear": -1}]}, r"schoolYear: .*must be 0 to 10"),
    ("persons", {"id": "p1", "enrolments": [{**ENROLMENT, "schoolYear": 7.5}]},
     r"schoolYear: Value error, must be a whole number \(SS 12000: type integer\)"),
    ("persons", {"id": "p1", "enrolments": [{**ENROLMENT, "cancelled": "false"}]},
     r"enrolments\[0\]\.cancelled: Value error, must be true or false \(a JSON boolean, as SS 12000 has it\), not text"),
    ("persons", {"id": "p1", "enrolments": [{**ENROLMENT, "cancelled": "yes"}]}, r"cancelled: .*not text"),
    ("persons", {"id": "p1", "enrolments": [{**ENROLMENT, "cancelled": 1}]}, r"cancelled: .*not a number"),
    ("syllabuses", {"id": "s1", "startSchoolYear": "3", "endSchoolYear": 3}, r"startSchoolYear: .*not text"),
    ("syllabuses", {"id": "s1", "startSchoolYear": 3, "endSchoolYear": 12}, r"endSchoolYear: .*must be 0 to 10"),
])
def test_a_school_year_or_cancelled_of_another_json_type_is_refused_naming_the_field(
        entity: str, item: dict[str, Any], said: str) -> None:
    """Failed on the old code: each was read (a year 7, 1, 11, -1; `cancelled` False or True) without a word; 7.5 was
    refused in pydantic's words. The item is named by its id, its value never said: refused on its own (the
    enrolment alone, a syllabus whole; session 34: it refused the page)."""
    message = refused_as_read(serve(entity, [item]), entity)
    assert message.startswith(f"{entity} {item['id']}: ")
    assert "input_value" not in message
    assert re.search(said, message), message


def test_a_whole_number_in_any_json_spelling_and_a_boolean_are_read(tmp_path: Path) -> None:
    """What the specification allows is read as before: 7 and 7.0 (JSON has one number type), 0 and 10, a folder
    file's numbers (read as Decimal), true and false; with the refusals above, failed on the old code as a whole."""
    persons = [{"id": f"p{n}", "enrolments": [{**ENROLMENT, "schoolYear": year, "cancelled": n % 2 == 0}]}
               for n, year in enumerate([7, 7.0, 0, 10])]
    for source in (serve("persons", persons), _folder(tmp_path, "persons", persons)):
        read_in = read(source, "persons")
        assert [(p.enrolments[0].school_year, p.enrolments[0].cancelled) for p in read_in] == [
            (7, True), (7, False), (0, True), (10, False)]
        assert all(type(p.enrolments[0].school_year) is int for p in read_in)
    assert re.search(r"schoolYear: .*not text", refused_as_read(
        _folder(tmp_path, "persons", [{"id": "p1", "enrolments": [{**ENROLMENT, "schoolYear": "7"}]}]), "persons"))


def _folder(tmp_path: Path, entity: str, items: list[Any]) -> FolderSource:
    (tmp_path / f"{entity}.json").write_text(json.dumps({"data": items}), encoding="utf-8")
    return FolderSource(tmp_path)


#: RFC 3339 date-times as servers write them, read as before: lower-case t and z, a space for the T, seven digits of a
#: fraction, an offset as +0200 or +02, none at all (then the naive zone), a leap second
RFC_3339 = ["2026-08-17t08:30:00z", "2026-08-17 08:30:00.1234567+0200", "2026-08-17T08:30:00+02",
            "2026-08-17T08:30:00", "2026-12-31T23:59:60Z", "2026-08-17T08:30:00.5-05:00"]


@pytest.mark.parametrize("stamp", ["2026-08-17", "2026-W34-1", "2026-229", "2026-08-17T08", "20260817T083000",
                                   "2026-08-17T0830"])
def test_a_meta_time_in_another_iso_8601_form_than_rfc_3339_refuses_its_item(stamp: str) -> None:
    """Failed on the old code: read as a time (`fromisoformat` takes ISO 8601's forms): a date alone as its midnight,
    a week or ordinal date as a day, an hour alone; an incremental run compared them with --since as if given. The
    RFC 3339 spellings servers use are read as before."""
    group = {"id": "g1", "displayName": "7A", "organisation": {"id": "su"}, "meta": {"modified": stamp}}
    assert re.match(r"^groups g1: meta\.modified: Value error, not an RFC 3339 timestamp \(SS 12000's format "
                    r"date-time: YYYY-MM-DDThh:mm:ss", refused_as_read(serve("groups", [group]), "groups"))
    groups = [{**group, "id": f"g{n}", "displayName": f"7{n}", "meta": {"modified": rfc}}
              for n, rfc in enumerate(RFC_3339)]
    assert [g.meta.modified for g in read(serve("groups", groups), "groups")] == RFC_3339


@pytest.mark.parametrize("given", ["Bearer abc.DEF-123_~+/=", "bearer abc.DEF-123_~+/=", "abc.DEF-123_~+/=\n",
                                   "  abc.DEF-123_~+/=  "])
def test_a_token_given_with_its_bearer_or_a_line_end_is_sent_alone(monkeypatch, given: str) -> None:
    """Failed on the old code: "Bearer Bearer abc…" (the server's 401), or the token with its blanks and line end
    (a request no server takes)."""
    tokens: list[Any] = []

    def no_source(url: str, token: str | None, **_: Any) -> Any:
        tokens.append(token)
        raise SourceError("stop here")

    monkeypatch.setattr(command, "HttpSource", no_source)
    result = CliRunner().invoke(app, ["import", "ss12000", "--url", BASE, "--token", given,
                                      "--reporting-token", given])
    assert tokens == ["abc.DEF-123_~+/="], result.output
    assert result.exit_code == 1 and "stop here" in result.output


@pytest.mark.parametrize(("flag", "given"), [("--token", "ab cd"), ("--token", "åtkomst-1234"),
                                             ("--reporting-token", "abc\u00a0def"), ("--token", "a\tb")])
def test_a_token_that_cannot_go_in_a_header_is_a_usage_error_never_quoted(monkeypatch, flag: str, given: str) -> None:
    """Failed on the old code: "the importer failed (UnicodeEncodeError …): a fault of the importer's" for a letter
    outside ASCII; a blank inside went to the server as given."""
    monkeypatch.setattr(command, "HttpSource", lambda *a, **k: pytest.fail("no source is made"))
    other = "--reporting-token" if flag == "--token" else "--token"
    result = CliRunner().invoke(app, ["import", "ss12000", "--url", BASE, flag, given, other, "fine"])
    assert result.exit_code == 2
    output = " ".join(result.output.replace("│", " ").split())
    assert f"{flag}: must be the token alone, in visible ASCII characters" in output, output
    assert given.strip() not in result.output


def _refused(answer: httpx.Response, *, token: str | None = None) -> str:
    client = httpx.Client(transport=httpx.MockTransport(lambda request: answer), base_url=BASE,
                          headers={"Authorization": f"Bearer {token}"} if token else {})
    with pytest.raises(SourceError) as raised:
        read(HttpSource(BASE, client=client, sleep=lambda _: None, attempts=2), "organisations")
    return str(raised.value)


def test_a_401_without_a_token_a_403_and_a_429_without_retry_after_say_what_they_are() -> None:
    """Failed on the old code: a 401 to a request without any token said "the server does not take the token"
    (there was none), a 403 said "HTTP 403" alone (its WWW-Authenticate `insufficient_scope` and the scope needed,
    RFC 6750 §3.1, unread), a 429 without a Retry-After said it was asked again "after its Retry-After"."""
    assert _refused(httpx.Response(401)) == (
        "organisations, page 1: HTTP 401; the server asks for a token and none was given: --token "
        "(STYRKEDJA_SS12000_TOKEN), or --token-url with --client-id and --client-secret")
    assert _refused(httpx.Response(401), token="t").endswith("; the server does not take the token (--token, "
                                                             "STYRKEDJA_SS12000_TOKEN)")
    assert _refused(httpx.Response(403, headers={"WWW-Authenticate": 'Bearer realm="x", error="insufficient_scope", '
                                                                     'scope="ss12000.organisations.read"'}),
                    token="t") == (
        "organisations, page 1: HTTP 403 (insufficient_scope: ss12000.organisations.read); the server takes the "
        "token but does not let it read /organisations (the token's scope, or the client's rights at the server)")
    assert _refused(httpx.Response(429)) == (
        "organisations, page 1: HTTP 429 (asked 2 times, after pauses of our own, as it gave no Retry-After: import "
        "later)")


def test_an_enum_value_written_in_decomposed_unicode_is_the_value() -> None:
    """`organisationType: "Verksamhetsområde"` with its å as "a" and a combining ring (NFD: a Mac's text, a pasted
    one) is the specification's Verksamhetsområde, and a group type "Övrigt" so written is no type to say. Failed on
    the old code: the type was one the importer does not know, so the Förvaltning above it (the topmost level) became
    the school unit's area and the Verksamhetsområde was folded; "Övrigt" was said as a type the specification
    lacks."""
    def nfd(text: str) -> str:
        return unicodedata.normalize("NFD", text)

    organisations = [
        {"id": "huv", "displayName": "Kommunen", "organisationType": "Huvudman", "municipalityCode": "2999"},
        {"id": "forv", "displayName": "Förvaltningen", "organisationType": nfd("Förvaltning"),
         "parentOrganisation": {"id": "huv"}},
        {"id": "vo", "displayName": "Grundskola", "organisationType": nfd("Verksamhetsområde"),
         "parentOrganisation": {"id": "forv"}},
        {"id": "su", "displayName": "Skolan", "organisationType": "Skolenhet", "schoolUnitCode": "29990011",
         "parentOrganisation": {"id": "vo"}}]
    groups = [{"id": "g1", "displayName": "Elevrådet", "groupType": nfd("Övrigt"), "organisation": {"id": "su"},
               "startDate": "2026-08-17", "groupMemberships": []}]

    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json={"data": {"organisations": organisations, "groups": groups}.get(entity, [])})

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    the_plan, _ = read_and_plan(HttpSource(BASE, client=client, sleep=lambda _: None), since=None, naive_zone=ZONE)
    units = {c["data"]["unit_id"]: (c["data"]["unit_type"], c["data"].get("parent_id"))
             for c in the_plan.changes["organisations"]}
    assert units == {"2999": ("organiser", None), "vo": ("area", "2999"), "su": ("school_unit", "vo")}
    assert [f.id for f in the_plan.folded] == ["forv"]
    assert the_plan.unknown_types == {}


def test_a_school_unit_code_the_directory_cannot_take_is_refused_in_words_not_a_regex() -> None:
    """`schoolUnitCode` is any text by the specification; the directory takes Skolverket's 8 digits. Failed on the
    old code: "String should match pattern '^\\\\d{8}$'" (pydantic's words, the regex quoted)."""
    organisations = [
        {"id": "huv", "displayName": "Kommunen", "organisationType": "Huvudman", "municipalityCode": "2999"},
        {"id": "su", "displayName": "Skolan", "organisationType": "Skolenhet", "schoolUnitCode": "2999 0011",
         "parentOrganisation": {"id": "huv"}}]

    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json={"data": organisations if entity == "organisations" else []})

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    the_plan, _ = read_and_plan(HttpSource(BASE, client=client, sleep=lambda _: None), since=None, naive_zone=ZONE)
    assert [(r.id, r.reason) for r in the_plan.refused] == [
        ("su", "schoolUnitCode: must be 8 digits, nothing else (Skolverket's skolenhetskod, e.g. 29990011)")]
