"""An SS 12000 server that fails midway: an error answer, a reset connection or a 401 on page N, a
`Retry-After` no float reads, pages that repeat earlier items, an item changed between two pages.

The rule the importer keeps: the source is read whole before anything is sent (`read_and_plan`, then
`send`), so an import ends complete or sends nothing, naming the entity, the page and the reason. What
may pass by itself (a busy answer, no answer in time, a reset connection) is asked again a bounded number
of times (`HttpSource.attempts`, pauses of at most 120 s); anything else stops the import at once.

The server is an `httpx.MockTransport` handler, and so is reporting: the command runs whole
(`styrkedja import ss12000 --url`) and every request it makes to reporting is recorded."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ss12000_fixtures import HUV, SU
from styrkedja_cli.main import app
from styrkedja_cli.ss12000 import command
from styrkedja_cli.ss12000.source import FolderSource, HttpSource, SourceError, retry_after_seconds


def group(ident: str, *members: str) -> dict[str, Any]:
    return {"id": ident, "displayName": ident.upper(), "organisation": {"id": "su"}, "startDate": "2026-08-17",
            "groupMemberships": [{"person": {"id": m}} for m in members]}


GROUPS = [group("g1", "p1"), group("g2", "p2"), group("g3", "p3")]


def paged(pages: dict[str, list[list[dict[str, Any]]]], fail: Callable[[str, int, httpx.Request], httpx.Response | None]
          ) -> Callable[[httpx.Request], httpx.Response]:
    """A server paging each entity by `pageToken` = the next page's number; `fail(entity, page, request)` may
    answer instead (or raise)."""
    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        page = int(request.url.params.get("pageToken", "1"))
        answer = fail(entity, page, request)
        if answer is not None:
            return answer
        entity_pages = pages.get(entity, [[]])
        body: dict[str, Any] = {"data": entity_pages[page - 1]}
        if page < len(entity_pages):
            body["pageToken"] = str(page + 1)
        return httpx.Response(200, json=body)
    return handle


def source_of(handle: Callable[[httpx.Request], httpx.Response], slept: list[float], **options: Any) -> HttpSource:
    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://ss12000.example")
    return HttpSource("http://ss12000.example", client=client, sleep=slept.append, **options)


def run_import(monkeypatch: pytest.MonkeyPatch, handle: Callable[[httpx.Request], httpx.Response],
               refuse: Callable[[int], httpx.Response | None] = lambda n: None) -> tuple[Any, list[str], list[float]]:
    """`styrkedja import ss12000 --url …` against `handle`, reporting a recording mock (`refuse(n)` may answer
    its n-th request instead): the CLI's result, the requests reporting got, the pauses asked for."""
    slept: list[float] = []
    to_reporting: list[str] = []
    source = source_of(handle, slept)
    monkeypatch.setattr(command.time, "sleep", slept.append)

    def reporting(request: httpx.Request) -> httpx.Response:
        to_reporting.append(f"{request.method} {request.url.path}")
        refused = refuse(len(to_reporting))
        if refused is not None:
            return refused
        if request.url.path == "/v1/directory/held":
            return httpx.Response(200, json={"items": [], "source_ids": [], "next_after": None})
        items = json.loads(request.content)["items"]
        return httpx.Response(200, json={"created": len(items), "changed": 0, "removed": 0, "unchanged": 0,
                                         "items": [{"status": "created", "entity_key": f"k{n}"}
                                                   for n, _ in enumerate(items)]})

    real_client = httpx.Client
    monkeypatch.setattr(command, "HttpSource", lambda *args, **kwargs: source)
    monkeypatch.setattr(command, "httpx", SimpleNamespace(  # the command's own client to reporting only
        Client=lambda **kwargs: real_client(transport=httpx.MockTransport(reporting), **kwargs),
        HTTPError=httpx.HTTPError))
    result = CliRunner().invoke(app, ["import", "ss12000", "--url", "http://ss12000.example"])
    return result, to_reporting, slept


PAGES = {"organisations": [[HUV], [SU]], "groups": [[g] for g in GROUPS]}


def fail_on(entity: str, page: int, answer: Callable[[httpx.Request], httpx.Response]
            ) -> Callable[[str, int, httpx.Request], httpx.Response | None]:
    return lambda e, p, request: answer(request) if (e, p) == (entity, page) else None


def _raise(error: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        raise error("gone", request=request)
    return answer


@pytest.mark.parametrize("answer, reason", [
    (lambda request: httpx.Response(500), "groups, page 2: HTTP 500"),
    (lambda request: httpx.Response(401, headers={"WWW-Authenticate": "Bearer"}), "groups, page 2: HTTP 401"),
    (lambda request: httpx.Response(503, headers={"Retry-After": "1"}), "groups, page 2: HTTP 503"),
    (_raise(httpx.ReadError), r"groups, page 2: ReadError \(6 attempts\)"),
    (_raise(httpx.RemoteProtocolError), r"groups, page 2: RemoteProtocolError \(6 attempts\)"),
])
def test_a_server_failing_on_a_later_page_for_good_stops_the_import_before_anything_is_sent(
        monkeypatch, answer, reason) -> None:
    """Every page of the organisations and the first of the groups were fine: reporting hears nothing, and
    the error names the entity, the page and the reason. (The 500 and the 401 were stopped so already; a
    connection reset stopped at once, now after its retries.)"""
    result, to_reporting, slept = run_import(monkeypatch, paged(PAGES, fail_on("groups", 2, answer)))
    assert result.exit_code == 1
    assert to_reporting == []
    assert re.search(f"import stopped:.*{reason}", " ".join(result.output.split())), result.output
    assert len(slept) <= 5 and all(0 <= s <= 120 for s in slept)  # bounded: attempts - 1 pauses at most


@pytest.mark.parametrize("error", [httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError,
                                   httpx.WriteError])
def test_a_connection_reset_once_midway_is_asked_again_and_the_import_completes(monkeypatch, error) -> None:
    """Failed on the old code: one reset connection (a server restart, a load balancer closing an idle
    connection) on page 2 of the groups stopped the import, as no answer in time did before round 5."""
    resets: list[int] = []

    def fail(entity: str, page: int, request: httpx.Request) -> httpx.Response | None:
        if (entity, page) == ("groups", 2) and not resets:
            resets.append(1)
            raise error("connection reset by peer", request=request)
        return None

    result, to_reporting, slept = run_import(monkeypatch, paged(PAGES, fail))
    assert result.exit_code == 0, result.output
    assert slept == [1.0]
    assert "POST /v1/directory/changes" in to_reporting


@pytest.mark.parametrize("value, expected", [("²", 1.0), ("٣", 1.0), ("１２", 1.0), ("-5", 1.0), ("+5", 1.0),
                                             ("5.5", 1.0), ("1e9", 1.0), ("9" * 400, 120.0),
                                             ("Thu, 01 Jan 2099 00:00:00 GMT", 120.0),
                                             ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0), ("0", 0.0)])
def test_retry_after_in_digits_float_does_not_read_is_a_pause_of_our_own(value, expected) -> None:
    """Failed on the old code for '²': `str.isdigit` is true of it and `float` raised ValueError out of the
    importer (a traceback, not "import stopped"); '٣' and '１２' were read as 3 and 12 s, though RFC 9110's
    delay-seconds are ASCII digits. Huge, negative, a date far ahead or past: bounded to 0..120 s (already so)."""
    assert retry_after_seconds(value, 1) == expected


def test_a_busy_answer_with_a_superscript_retry_after_is_asked_again(monkeypatch) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "³".encode()})])
    result, to_reporting, slept = run_import(monkeypatch, paged(PAGES, lambda e, p, r: next(answers, None)))
    assert result.exit_code == 0, result.output
    assert slept == [1.0] and to_reporting


def _read(source: HttpSource | FolderSource, entity: str = "groups") -> list[Any]:
    return source.read(entity, None, lambda *_: None)


def test_a_page_repeating_earlier_items_under_a_new_token_is_read_once() -> None:
    """An item inserted at the front while the server is paged by offset pushes the last item of page 1 onto
    page 2: the same item twice. Failed on the old code: read twice (two changes of one group in one import)."""
    pages = {"groups": [[GROUPS[0], GROUPS[1]], [GROUPS[1], GROUPS[2]], [GROUPS[0], GROUPS[2]]]}
    source = source_of(paged(pages, lambda *_: None), [])
    assert [g.id for g in _read(source)] == ["g1", "g2", "g3"]


def test_an_item_changed_between_two_pages_stops_the_import_naming_both_pages(monkeypatch) -> None:
    """A group deleted and made again (or changed) between page 1 and page 3 stands on both with other
    members. Failed on the old code: both versions were sent, and the member only the older one had stayed
    in the directory. Now the import stops naming the id and both pages, and reporting hears nothing."""
    pages = {**PAGES, "groups": [[GROUPS[0]], [GROUPS[1]], [group("g1", "p1", "p9")]]}
    result, to_reporting, _ = run_import(monkeypatch, paged(pages, lambda *_: None))
    assert result.exit_code == 1 and to_reporting == []
    said = " ".join(result.output.split())
    assert "groups, page 3: item g1 is on page 1 too, with other content" in said, said
    with pytest.raises(SourceError, match="groups, page 3: item g1 is on page 1 too"):
        _read(source_of(paged(pages, lambda *_: None), []))


def test_a_folder_dump_of_pages_keeps_the_same_rule(tmp_path) -> None:
    """A dump saved page by page from an API (`groups/*.json`): a repeated item read once, a changed one refused
    naming both files."""
    folder = tmp_path / "groups"
    folder.mkdir()
    (folder / "1.json").write_text(json.dumps({"data": [GROUPS[0], GROUPS[1]]}))
    (folder / "2.json").write_text(json.dumps({"data": [GROUPS[1], GROUPS[2]]}))
    assert [g.id for g in _read(FolderSource(tmp_path))] == ["g1", "g2", "g3"]
    (folder / "3.json").write_text(json.dumps({"data": [group("g2", "p8")]}))
    with pytest.raises(SourceError, match=r"groups, page 3.json: item g2 is on page 1.json too, with other"):
        _read(FolderSource(tmp_path))


@pytest.mark.parametrize("answer", [httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(429),
                                    httpx.Response(502), httpx.Response(409, headers={"Retry-After": "1"}, json={
                                        "errors": [{"field": "Idempotency-Key", "rule": "idempotency_key_in_progress",
                                                    "message": "still being processed"}]})])
def test_a_busy_reporting_is_asked_again_for_the_same_chunk(monkeypatch, answer) -> None:
    """Failed on the old code: reporting's first busy answer (a 503 `database_busy`) on the second chunk stopped
    the import with the first chunk applied. Sending a chunk again is safe: the same changes are `unchanged`. A 409
    saying the chunk's `Idempotency-Key` is still being processed (an earlier attempt whose answer timed out) is
    asked again too (it stopped the import before)."""
    monkeypatch.setattr(command, "CHUNK", 1)
    result, to_reporting, slept = run_import(monkeypatch, paged(PAGES, lambda *_: None),
                                             lambda n: answer if n == 2 else None)
    assert result.exit_code == 0, result.output
    assert to_reporting[1] == to_reporting[2] == "POST /v1/directory/changes"
    assert slept == [2.0 if answer.status_code == 503 else 1.0]


def test_a_chunk_reporting_refuses_stops_the_import_naming_it_and_removes_nothing(monkeypatch) -> None:
    """The chunks before it are applied (each is all or nothing at reporting) and nothing is removed (a full
    run's removals go last): the error says which chunk, why, and that running it again completes the import."""
    monkeypatch.setattr(command, "CHUNK", 1)
    refusal = httpx.Response(422, json={"errors": [{"field": "items.0.data.name", "rule": "string_too_long"}]})
    result, to_reporting, _ = run_import(monkeypatch, paged(PAGES, lambda *_: None),
                                         lambda n: refusal if n == 4 else None)  # after what reporting holds
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "reporting refused the groups changes, items 1-1 of 3: HTTP 422" in said, said
    assert "run the import again to complete it" in said
    assert to_reporting == ["GET /v1/directory/held"] + ["POST /v1/directory/changes"] * 3  # no removal, no more
