"""SS 12000 servers that misbehave: busy (429/503 with Retry-After, timeouts), paging by a `Link`
header, empty pages, answers that are too large or not JSON, a BOM, and data carrying personal
identity numbers. Imported is what is valid; refused is what is not, named by entity, id and rule,
and no refusal or error repeats a personal identity number.

The server is a `httpx.MockTransport` handler: every answer is what the test says, no network, and
the pauses the source asks for are recorded instead of slept."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from ss12000_fixtures import HUV, PIN, SU, ZONE
from styrkedja_cli.ss12000.command import read_and_plan
from styrkedja_cli.ss12000.mapping import Refused
from styrkedja_cli.ss12000.source import HttpSource, SourceError, retry_after_seconds
from styrkedja_contracts.identifiers import contains_personal_identity_number


def source_of(handle: Callable[[httpx.Request], httpx.Response], **options: Any
              ) -> tuple[HttpSource, list[float], list[str]]:
    slept: list[float] = []
    said: list[str] = []
    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://ss12000.example")
    source = HttpSource("http://ss12000.example", client=client, page_size=1, sleep=slept.append,
                        on_retry=lambda what, seconds: said.append(f"{what}: {seconds:g}"), **options)
    return source, slept, said


def read(source: HttpSource, entity: str = "organisations") -> list[Any]:
    return source.read(entity, None, lambda *_: None)


def test_a_busy_server_is_asked_again_after_its_retry_after() -> None:
    """Failed on the old code: the first 429 stopped the import."""
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    answers = [httpx.Response(429, headers={"Retry-After": "7"}),
               httpx.Response(503, headers={"Retry-After": later}),
               httpx.Response(503),
               httpx.Response(200, json={"data": [HUV]})]
    source, slept, said = source_of(lambda request: answers.pop(0))
    assert [o.id for o in read(source)] == ["huv"]
    assert slept[0] == 7 and 20 <= slept[1] <= 30 and slept[2] == 4  # the third attempt: no header, 2**2
    assert said[:3] == ["organisations, page 1: HTTP 429: 7", "organisations, page 1: HTTP 503: " + said[1].split()[-1],
                        "organisations, page 1: HTTP 503: 4"]


def test_a_server_busy_for_good_stops_the_import_naming_the_page() -> None:
    source, slept, _ = source_of(lambda request: httpx.Response(503, headers={"Retry-After": "86400"}),
                                 attempts=3)
    with pytest.raises(SourceError, match="organisations, page 1: HTTP 503"):
        read(source)
    assert slept == [120, 120]  # a day is not waited for: two pauses of the longest, then it gives up


def test_a_server_that_does_not_answer_in_time_is_asked_again() -> None:
    """Failed on the old code: one timeout stopped the import."""
    calls = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json=[HUV])

    source, slept, _ = source_of(handle)
    assert [o.id for o in read(source)] == ["huv"]
    assert slept == [1, 2]
    source, _, _ = source_of(lambda request: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=request)),
                             attempts=2)
    with pytest.raises(SourceError, match=r"organisations, page 1: the SS 12000 server at http://ss12000.example did "
                                          r"not answer within 5 s \(--timeout, ReadTimeout, 2 attempts\)"):
        read(source)


@pytest.mark.parametrize("value, expected", [("5", 5.0), (" 12 ", 12.0), ("99999", 120.0), ("soon", 1.0),
                                             ("", 1.0), (None, 1.0), ("-3", 1.0),
                                             ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after_as_seconds_or_a_date_and_nonsense_as_a_pause_of_our_own(value, expected) -> None:
    assert retry_after_seconds(value, 1) == expected


def test_pages_by_a_link_header_on_the_same_server_and_empty_pages_between() -> None:
    """Failed on the old code: only the first page of a server paging by `Link` was read."""
    def handle(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        pages = {1: [HUV], 2: [], 3: [SU]}
        headers = {"Link": f'</organisations?page={page + 1}&limit=1>; rel="next"'} if page < 3 else {}
        return httpx.Response(200, json={"data": pages[page]}, headers=headers)

    source, _, _ = source_of(handle)
    assert [o.id for o in read(source)] == ["huv", "su"]


def test_empty_pages_with_a_token_go_on_and_a_link_to_another_server_is_refused() -> None:
    answers = [{"data": [], "pageToken": "a"}, {"data": [], "pageToken": "b"}, {"data": [HUV]}]
    source, _, _ = source_of(lambda request: httpx.Response(200, json=answers.pop(0)))
    assert [o.id for o in read(source)] == ["huv"]
    source, _, _ = source_of(lambda request: httpx.Response(
        200, json={"data": [HUV]}, headers={"Link": '<https://elsewhere.example/organisations?p=2>; rel="next"'}))
    with pytest.raises(SourceError, match="organisations, page 1: the next page's link points at another server"):
        read(source)


def test_a_page_larger_than_the_limit_is_refused_as_it_streams_in() -> None:
    """Failed on the old code: the whole answer was read into memory whatever its size."""
    def endless() -> Any:
        yield b'{"data": ['
        while True:
            yield b'{"id": "x", "displayName": "y", "organisationType": "Skolenhet"},' * 100

    source, _, _ = source_of(lambda request: httpx.Response(200, content=endless()), max_page_bytes=100_000)
    with pytest.raises(SourceError, match="organisations, page 1: the page is larger than 100000 bytes"):
        read(source)
    source, _, _ = source_of(lambda request: httpx.Response(200, content=b"[]",
                                                            headers={"Content-Length": "999999999"}),
                             max_page_bytes=100_000)
    with pytest.raises(SourceError, match="larger than"):
        read(source)


@pytest.mark.parametrize("content, kind, outcome", [
    (b'{"data": [{"id": "huv", "displayName": "K", "organisationType": "Huvudman"}]}', "text/plain", "huv"),
    (b'\xef\xbb\xbf{"data": [{"id": "huv", "displayName": "K", "organisationType": "Huvudman"}]}',
     "application/json", "huv"),
    (b"<html>Service Unavailable</html>", "text/html", "not JSON (content-type text/html)"),
    (b'{"data": [' * 50_000, "application/json", "not JSON"),
    (b"\xff\xfe{}", "application/json", "not JSON"),
    (b'{"data": "everything"}', "application/json", "expected a list"),
    (b'{"data": [{"id": 5, "displayName": "K", "organisationType": "Huvudman"}]}', "application/json",
     "item 0: id: Value error, must be text (a JSON string, as SS 12000 has it), not a number"),
])
def test_odd_answers(content, kind, outcome) -> None:
    source, _, _ = source_of(lambda request: httpx.Response(200, content=content, headers={"content-type": kind}))
    if outcome == "huv":
        assert [o.id for o in read(source)] == ["huv"]
    else:
        with pytest.raises(SourceError, match=outcome.replace("(", r"\(").replace(")", r"\)")):
            read(source)


def test_personal_identity_numbers_in_the_data_are_refused_and_never_repeated() -> None:
    """A person whose id is a civic number (some servers do), a group named by one, a school with
    one in its name: those items are refused, the rest imported, and neither a refusal nor an
    error repeats the number. Failed on the old code: a refused membership's id named the person."""
    group = {"id": "g1", "displayName": "7A", "organisation": {"id": "su"}, "startDate": "2026-08-17",
             "groupMemberships": [{"person": {"id": PIN}}, {"person": {"id": "p-2"}}]}
    named = {"id": "g2", "displayName": f"elev {PIN}", "organisation": {"id": "su"}, "startDate": "2026-08-17"}
    pages = {"organisations": [HUV, SU, {**SU, "id": "su2", "displayName": "Skola 121212-1212",
                                         "schoolUnitCode": "29990012"}],
             "groups": [group, named], "persons": [{"id": PIN, "civicNo": {"value": PIN}}, {"id": "p-2"}]}

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": pages.get(request.url.path.strip("/"), [])})

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://ss12000.example")
    the_plan, _ = read_and_plan(HttpSource("http://ss12000.example", client=client), since=None, naive_zone=ZONE)
    assert [c["data"]["student_id"] for c in the_plan.changes["memberships"]] == ["p-2"]
    assert [c["data"]["unit_id"] for c in the_plan.changes["groups"]] == ["g1"]
    refused = [(r.entity, r.reason) for r in the_plan.refused]
    assert ("memberships", "groupMemberships[0].person.id: must not contain a personal identity number "
            "(personnummer/samordningsnummer); use a pseudonymous id") in refused
    assert {entity for entity, _ in refused} == {"memberships", "groups", "organisations"}
    for one in the_plan.refused:
        assert not contains_personal_identity_number(f"{one.entity} {one.id}: {one.reason}"), one
    assert contains_personal_identity_number(str(the_plan.changes)) is False


def test_a_refusal_or_an_error_never_repeats_a_personal_identity_number() -> None:
    assert Refused("activities", f"a/{PIN}", f"group {PIN} is not known").id == "a/[REDACTED]"
    assert str(SourceError(f"groups {PIN}: HTTP 500")) == "groups [REDACTED]: HTTP 500"
