"""SS 12000 servers other than ours, as a small fake server each (`httpx.MockTransport`): what they do that is valid,
or common, and must be read whole, and what is not, which must stop the import with one line naming the endpoint,
the item and the rule. Each test failed on the code before it, as its docstring says. Pauses are recorded, never
slept."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ss12000_fixtures import GROUP, HUV, PIN, SU, refused_as_read
from styrkedja_cli.main import app
from styrkedja_cli.ss12000 import command
from styrkedja_cli.ss12000.source import HttpSource, SourceError

BASE = "http://ss12000.example/v2.0"


def source_of(handle: Callable[[httpx.Request], httpx.Response], **options: Any) -> tuple[HttpSource, list[str]]:
    notes: list[str] = []
    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    source = HttpSource(BASE, client=client, page_size=1, sleep=lambda _: None, on_note=notes.append, **options)
    return source, notes


def ids(source: HttpSource, entity: str = "organisations") -> list[str]:
    return [item.id for item in source.read(entity, None, lambda *_: None)]


def paged(first: dict[str, Any], rest: dict[str, Any], *, second: Callable[[httpx.Request], bool]
          ) -> Callable[[httpx.Request], httpx.Response]:
    """A server answering `first` to the first request and `rest` to the request `second` tells apart."""
    return lambda request: httpx.Response(200, json=rest if second(request) else first)


@pytest.mark.parametrize(("paging", "second"), [
    ({"links": {"next": f"{BASE}/organisations?cursor=2"}}, lambda r: r.url.params.get("cursor") == "2"),  # JSON:API
    ({"links": {"next": {"href": "organisations?cursor=2"}}}, lambda r: r.url.params.get("cursor") == "2"),
    ({"_links": {"next": {"href": "/v2.0/organisations?cursor=2"}}}, lambda r: r.url.params.get("cursor") == "2"),
    ({"@odata.nextLink": f"{BASE}/organisations?$skiptoken=2"}, lambda r: r.url.params.get("$skiptoken") == "2"),
    ({"next": "?cursor=2"}, lambda r: r.url.params.get("cursor") == "2"),  # Django REST's, relative to the page
    ({"meta": {"pageToken": "t2"}}, lambda r: r.url.params.get("pageToken") == "t2"),
    ({"nextPageToken": "t2"}, lambda r: r.url.params.get("pageToken") == "t2"),
])
def test_a_next_page_named_in_the_body_otherwise_than_by_page_token_is_read(
        paging: dict[str, Any], second: Callable[[httpx.Request], bool]) -> None:
    """Failed on the old code: the first page was read as the whole list (the second, SU, lost unsaid: a full run
    would have removed it from the directory)."""
    source, notes = source_of(paged({"data": [HUV], **paging}, {"data": [SU]}, second=second))
    assert ids(source) == ["huv", "su"]
    assert len(notes) == 1 and "organisations, page 1: no pageToken, the next page named by" in notes[0]


def test_the_specifications_page_token_goes_before_a_link_in_the_body() -> None:
    """The body's link is another API's habit: a page with SS 12000's pageToken is paged by it, one without by the
    link. Failed on the old code: the page after the token was read as the last (its link not followed)."""
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") == "3":
            return httpx.Response(200, json={"data": [{**SU, "id": "su3"}], "next": ""})  # empty: the last page
        if request.url.params.get("pageToken") == "t2":
            return httpx.Response(200, json={"data": [SU], "links": {"next": "?cursor=3"}})
        assert "cursor" not in request.url.params
        return httpx.Response(200, json={"data": [HUV], "pageToken": "t2", "links": {"next": "?cursor=9"}})

    source, notes = source_of(handle)
    assert ids(source) == ["huv", "su", "su3"]
    assert len(notes) == 1 and notes[0].startswith("organisations, page 2: no pageToken")


def test_a_link_in_the_body_to_another_server_is_refused_not_followed() -> None:
    """Failed on the old code: read as the last page (what the link named lost unsaid); the token never goes to
    another server."""
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url.host))
        return httpx.Response(200, json={"data": [HUV], "links": {"next": "https://elsewhere.example/organisations"}})

    source, _ = source_of(handle)
    with pytest.raises(SourceError, match=r"^organisations, page 1: the next page's link \('links.next' in the "
                                          r"body\) points at another server$"):
        ids(source)
    assert asked == ["ss12000.example"]


def test_deleted_entities_paged_by_a_link_in_the_body_are_read_whole() -> None:
    """Failed on the old code: only the first page's removals were read (the group removed on page 2 stayed)."""
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") == "2":
            return httpx.Response(200, json={"data": {"groups": ["g2"]}})
        return httpx.Response(200, json={"data": {"groups": ["g1"]}, "links": {"next": "?cursor=2"}})

    source, _ = source_of(handle)
    assert source.deleted(datetime.fromisoformat("2026-01-01T00:00:00+00:00")) == ["g1", "g2"]


@pytest.mark.parametrize(("answer", "said"), [
    (httpx.Response(502, content=b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                    headers={"content-type": "text/html"}),
     "organisations, page 1: HTTP 502 (a text/html body, no SS 12000 error)"),
    (httpx.Response(403, content=b"Forbidden: client has no right to /organisations\n"),
     "organisations, page 1: HTTP 403 (Forbidden: client has no right to /organisations)"),
    (httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="ss12000", error="invalid_token", '
                                                      'error_description="The access token expired"'}),
     "organisations, page 1: HTTP 401 (invalid_token: The access token expired); the server does not take the "
     "token (--token, STYRKEDJA_SS12000_TOKEN)"),
])
def test_an_error_without_ss12000s_error_body_says_what_the_server_sent(answer: httpx.Response, said: str) -> None:
    """Failed on the old code: "HTTP 502", "HTTP 403", "HTTP 401" alone — a proxy's HTML page, a line of text and a
    token's refusal in its WWW-Authenticate header all told apart from nothing only by reading the server's log."""
    source, _ = source_of(lambda request: answer, attempts=1)
    with pytest.raises(SourceError) as raised:
        ids(source)
    assert str(raised.value) == said


@pytest.mark.parametrize(("item", "said"), [
    ({**SU, "parentOrganisation": "huv"},
     "organisations su: parentOrganisation: must be a JSON object, not a string (page 1, item 0)"),
    ({**SU, "parentOrganisation": ["huv"]},
     "organisations su: parentOrganisation: must be a JSON object, not a list (page 1, item 0)"),
])
def test_a_value_that_is_no_object_where_one_is_expected_is_named_with_its_items_id(item: Any, said: str) -> None:
    """Failed on the old code: "Input should be a valid dictionary or instance of Ref" (the importer's own class
    names) and no id to find the item by at the source once it is paged. Refused on its own (session 34: it stopped
    the import); an item that is no object has no id to refuse it by, and stops it."""
    source, _ = source_of(lambda request: httpx.Response(200, json={"data": [item]}))
    assert refused_as_read(source, "organisations") == said


def test_an_item_that_is_no_object_stops_the_import_naming_its_place() -> None:
    source, _ = source_of(lambda request: httpx.Response(200, json={"data": ["su"]}))
    with pytest.raises(SourceError) as raised:
        ids(source)
    assert str(raised.value) == "organisations, page 1, item 0: must be a JSON object, not a string"


@pytest.mark.parametrize(("raised", "said", "code"), [
    (RuntimeError(f"a fault at item {PIN}"), "import stopped: the importer failed (RuntimeError: a fault at item "
                                             "[REDACTED]): a fault of the importer's, please report it "
                                             "(STYRKEDJA_TRACEBACK=1 shows where)", 1),
    (KeyboardInterrupt(), "import interrupted", 130),
])
def test_a_fault_of_the_importers_own_is_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                                   raised: BaseException, said: str, code: int) -> None:
    """Failed on the old code: an exception the importer did not expect (or Ctrl-C) left the command as a Python
    traceback, which may quote the source's data; now one line, personal identity numbers redacted."""
    def fails(*_: Any, **__: Any) -> Any:
        raise raised

    monkeypatch.setattr(command, "read_and_plan", fails)
    monkeypatch.delenv("STYRKEDJA_TRACEBACK", raising=False)
    result = CliRunner().invoke(app, ["import", "ss12000", "--url", BASE, "--token", "t"])
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)
    said_all = " ".join(result.output.split())  # the console wraps long lines at its width
    assert said_all == f"{said} nothing was sent to reporting", result.output


#: every way `tempfile` makes a file: a page of the importer's must never reach one
TEMPFILE_MAKERS = ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp")


def no_temporary_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every `tempfile` maker made to record its call (and fail): the calls."""
    made: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def made_one(*args: Any, **kwargs: Any) -> Any:
            made.append(name)
            raise AssertionError(f"tempfile.{name} called")
        return made_one

    for name in TEMPFILE_MAKERS:
        monkeypatch.setattr(tempfile, name, refuse(name))
    return made


def test_a_large_page_from_a_server_is_parsed_as_it_is_read_and_never_written_to_a_file(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's items are parsed as they are read (the page's bytes once in memory, not twice as its chunks were
    joined: peak 2.1 times this 12 MB page before session 25; bench/ss12000_page_rss.py), and never written to a file:
    round 36 — beyond 4 MiB a page of anything but persons waited in a temporary file, and any entity's free text (a
    group's name typed with a civic number) may hold one. Failed on the code before: the file was made."""
    import tracemalloc

    made = no_temporary_files(monkeypatch)
    items = [HUV | {"id": f"org-{n}", "extension": {"notes": "x" * 6_000, "n": n}} for n in range(2_000)]
    page = json.dumps({"data": items}).encode()
    del items

    def streamed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=(page[at:at + 65_536] for at in range(0, len(page), 65_536)))

    source, _ = source_of(streamed)
    tracemalloc.start()
    try:
        kept = ids(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept == [f"org-{n}" for n in range(2_000)]
    assert made == []
    # measured: 1.09 times the page (its bytes, the items kept); 2.1 times when its chunks were joined
    assert peak < len(page) * 1.5, f"peak {peak:,} bytes for a page of {len(page):,}"


def test_a_page_larger_than_memory_holds_stops_the_import_naming_the_page_and_the_flag(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A page the machine cannot hold (`Body`): one line naming the page, what was read of it and the flag, never a
    MemoryError's traceback."""
    from styrkedja_cli.ss12000 import source as module

    def full(self: Any, chunk: bytes) -> None:
        raise MemoryError

    monkeypatch.setattr(module.Body, "write", full)
    source, _ = source_of(lambda request: httpx.Response(200, json={"data": [HUV]}))
    with pytest.raises(SourceError) as raised:
        ids(source)
    assert str(raised.value).startswith("organisations, page 1: the page (")
    assert str(raised.value).endswith("bytes so far) could not be held in memory while read (--max-page-mib lowers "
                                      "the limit, 256 MiB)")


def test_the_largest_page_is_a_flag_named_where_a_page_is_over_it(tmp_path: Path) -> None:
    """A server that ignores `limit` answers a whole list in one page, which may be over 256 MiB for a large
    organiser: before, the import stopped with no way on; now `--max-page-mib` sets it (the bytes wait on disk), and
    the refusal names the flag. Failed on the old code: no such flag (exit 2)."""
    (tmp_path / "organisations.json").write_text(json.dumps({"data": [HUV, SU], "pad": "x" * (1024 * 1024)}))
    result = CliRunner().invoke(app, ["import", "ss12000", "--dir", str(tmp_path), "--max-page-mib", "1"])
    assert result.exit_code == 1, result.output
    assert " ".join(result.output.split()) == (
        f"import stopped: organisations, page organisations.json: the file is larger than {1024 * 1024} bytes "
        "(--max-page-mib raises the limit) nothing was sent to reporting")


def test_a_date_written_as_digits_alone_is_refused_as_what_it_is() -> None:
    """Failed on the old code: `"startDate": "20260817"` (ISO 8601's basic form, a JSON string) was refused as
    "not a number", which it is not."""
    source, _ = source_of(lambda request: httpx.Response(200, json={"data": [{**SU, "startDate": "20260817"}]}))
    assert refused_as_read(source, "organisations") == (
        "organisations su: startDate: Value error, must be a date written YYYY-MM-DD (SS 12000: format date), not "
        "digits alone (page 1, item 0)")


@pytest.mark.parametrize(("entity", "expand"), [("persons", None), ("groups", "groupMemberships"), ("groups", None),
                                              ("organisations", None), ("duties", None), ("activities", None)])
def test_a_large_page_of_any_entity_is_never_written_to_a_file(entity: str, expand: str | None,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A page of persons (or anything asked with `expand`, which may embed persons) holds their civic numbers as the
    server sent them; a page of any other entity may hold one in free text. Beyond 4 MiB none is written to a file.
    Failed on the first spooling code for persons, and until round 36 for the others (a page of groups went to the
    file)."""
    made = no_temporary_files(monkeypatch)
    pad = {"extension": {"notes": "x" * 6_000}}
    item = {"id": "p1", "civicNo": {"value": PIN.replace("-", "")}, **pad} if entity == "persons" else \
        {**GROUP, **pad} if entity == "groups" else {**HUV, **pad}
    page = json.dumps({"data": [{**item, "id": f"{entity}-{n}"} for n in range(1_000)]}).encode()
    assert len(page) > 4 * 1024 * 1024
    source, _ = source_of(lambda request: httpx.Response(200, content=iter([page])))
    with contextlib.suppress(SourceError):  # (duties and activities of organisations' shape: refused, read whole)
        list(source.read(entity, None, lambda *_: None, expand))
    assert made == [], "a page went to a temporary file"
