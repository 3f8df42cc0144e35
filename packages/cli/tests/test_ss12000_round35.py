"""Session 35: the importer as a client of SS 12000 servers that are slow, odd or hostile, on real sockets
(`ss12000_sockets.SocketServer`), table by table:

* HTTP: 429 with and without Retry-After (seconds, an HTTP date, a huge value), 5xx then an answer, redirects on the
  server (301/302/307/308) and off it (never followed, nothing sent there), a redirect loop, gzip and deflate (br
  refused naming it), a charset other than UTF-8, a body larger than any page, a connection reset mid-body, HTTP/1.0
  without a Content-Length, a non-JSON error body — and headers or a body trickling in: failed before, a server
  sending its status line and then a header line every few seconds held a page for as long as it chose (the deadline
  was checked only as the body's chunks came; `deadline.py` bounds every read of the connection);
* paging: a pageToken that repeats (a loop), one that never ends, a page size the server changes, an empty page with
  a next token, an item on two pages (alike: read once; otherwise: stopped), a next page on another server;
  an item refused on one page and read on another — failed before: sent and kept back as refused at once; now the
  import stops as for any id on two pages with two contents;
* OAuth 2.0: a token expired mid-import is renewed once; a server refusing each new token after a page — failed
  before: a token asked for every page, the run going on — stops at the second refusal; a token endpoint trickling
  its answer is stopped;
* nothing sensitive said: a server or a token endpoint echoing the bearer token or the client's secret in its error —
  failed before: said as it came — is said without it; a person's civic number in any spelling never reaches what is
  sent nor what is said;
* a source of many refused items lists 50 per entity and counts the rest by field — failed before: a line each.

Fast: each server answers at once or within a second or two; nothing is slept for a Retry-After (`sleep` recorded)."""

from __future__ import annotations

import gzip
import json
import re
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from ss12000_sockets import (
    Asked,
    SocketServer,
    answer,
    closed_http10,
    endless_chunks,
    head,
    in_turn,
    reset,
    trickled,
)
from test_ss12000_servers import Reporting, dump, entities, row, run

from ss12000_fixtures import GROUP, HUV, PIN, SU, ZONE
from styrkedja_cli.ss12000 import oauth
from styrkedja_cli.ss12000.command import read_and_plan
from styrkedja_cli.ss12000.oauth import ClientCredentials
from styrkedja_cli.ss12000.source import HttpSource, SourceError, without_secrets
from styrkedja_cli.ss12000.summary import REFUSED_LISTED, _refused_said
from styrkedja_contracts.identifiers import contains_personal_identity_number

TOKEN = "bearer-token-0123456789"
SECRET = "client-secret-9876543210"
PAGE = json.dumps({"data": [HUV, SU]}).encode()
JSON = [("Content-Type", "application/json")]


def reading(url: str, **options: Any) -> tuple[HttpSource, list[float]]:
    """A source of the stub at `url`: one-second timeouts, three attempts, pauses recorded, not slept."""
    slept: list[float] = []
    source = HttpSource(url, options.pop("token", TOKEN), timeout=1, page_seconds=options.pop("page_seconds", 1.5),
                        attempts=3, sleep=slept.append, **options)
    return source, slept


def read_ids(source: HttpSource, entity: str = "organisations") -> list[str]:
    return [item.id for item in source.read(entity, None, lambda *_: None)]


def stopped(source: HttpSource, entity: str = "organisations") -> str:
    with pytest.raises(SourceError) as error:
        source.read(entity, None, lambda *_: None)
    return str(error.value)


# -- HTTP ----------------------------------------------------------------------------------------------------------

def _in(seconds: int) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


OK = answer(200, PAGE, JSON)
#: (case, the server's answers in turn, what is read — the ids, or the start of the stop — and the pauses taken)
HTTP_CASES: list[tuple[str, Callable[[], Any], list[str] | str, list[float] | None]] = [
    ("429 Retry-After seconds, then 200", lambda: in_turn(answer(429, headers=[("Retry-After", "7")]), OK),
     ["huv", "su"], [7.0]),
    ("429 Retry-After an HTTP date, then 200", lambda: in_turn(answer(429, headers=[("Retry-After", _in(30))]), OK),
     ["huv", "su"], None),
    ("429 Retry-After huge, then 200", lambda: in_turn(answer(429, headers=[("Retry-After", "9" * 15)]), OK),
     ["huv", "su"], [120.0]),
    ("429 Retry-After a date long past, then 200",
     lambda: in_turn(answer(429, headers=[("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")]), OK), ["huv", "su"],
     [0.0]),
    ("429 Retry-After no number nor date", lambda: in_turn(answer(429, headers=[("Retry-After", "soon")]), OK),
     ["huv", "su"], [1.0]),
    ("429 without Retry-After, then 200", lambda: in_turn(answer(429), OK), ["huv", "su"], [1.0]),
    ("429 that stays", lambda: answer(429, headers=[("Retry-After", "1")]),
     "organisations, page 1: HTTP 429 (asked 3 times, after its Retry-After each time: import later)", [1.0, 1.0]),
    ("503 then 502 then 200", lambda: in_turn(answer(503), answer(502), OK), ["huv", "su"], [1.0, 2.0]),
    ("500 with an HTML body that stays", lambda: answer(500, b"<html><b>Fel</b></html>", [("Content-Type",
                                                                                          "text/html")]),
     "organisations, page 1: HTTP 500 (a text/html body, no SS 12000 error)", [1.0, 2.0]),
    ("400 with a line of text", lambda: answer(400, b"Bad limit\n", [("Content-Type", "text/plain")]),
     "organisations, page 1: HTTP 400 (Bad limit)", []),
    ("a connection reset mid-body, then 200",
     lambda: in_turn(reset(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"data\": ["), OK), ["huv", "su"],
     [1.0]),
    ("a connection reset that stays", lambda: reset(),
     "organisations, page 1: ReadError (3 attempts): the connection broke while the answer was read", [1.0, 2.0]),
    ("a connection closed without an answer", lambda: lambda asked, conn: False,
     "organisations, page 1: RemoteProtocolError (3 attempts): the server closed the connection before a whole "
     "answer", [1.0, 2.0]),
    ("an answer that is no HTTP", lambda: lambda asked, conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
     "organisations, page 1: RemoteProtocolError (3 attempts): ", [1.0, 2.0]),
    ("informational answers without end", lambda: lambda asked, conn: [
        (conn.sendall(b"HTTP/1.1 102 Processing\r\n\r\n"), time.sleep(0.02)) for _ in range(10_000)],
     "organisations, page 1: the page took longer than 1.5 s to arrive (--page-seconds)", []),
    ("HTTP/1.0 without a Content-Length", lambda: closed_http10(PAGE), ["huv", "su"], []),
    ("gzip", lambda: answer(200, gzip.compress(PAGE), [*JSON, ("Content-Encoding", "gzip")]), ["huv", "su"], []),
    ("deflate (zlib)", lambda: answer(200, zlib.compress(PAGE), [("Content-Encoding", "deflate")]), ["huv", "su"],
     []),
    ("deflate (raw)", lambda: answer(200, zlib.compress(PAGE, wbits=-15), [("Content-Encoding", "deflate")]),
     ["huv", "su"], []),
    ("br, not asked for", lambda: answer(200, b"\x0b\x02\x80{}\x03", [("Content-Encoding", "br")]),
     "organisations, page 1: content-encoding 'br' is not one of gzip, x-gzip, deflate", []),
    ("ISO-8859-1 as declared", lambda: answer(200, json.dumps({"data": [HUV, {**SU, "displayName": "Åsskolan"}]},
                                                              ensure_ascii=False).encode("latin-1"),
                                              [("Content-Type", "application/json; charset=ISO-8859-1")]),
     ["huv", "su"], []),
    ("a body larger than any page", lambda: endless_chunks(),
     "organisations, page 1: the page is larger than 1048576 bytes (--max-page-mib raises the limit)", []),
    ("a Content-Length larger than any page",
     lambda: lambda asked, conn: conn.sendall(head(200, [("Content-Length", str(1 << 40))]) + b"{}"),
     "organisations, page 1: the page is larger than 1048576 bytes", []),
    ("headers trickling in", lambda: trickled(PAGE, in_headers=True),
     "organisations, page 1: the page took longer than 1.5 s to arrive (--page-seconds)", []),
    ("a body trickling in", lambda: trickled(PAGE + b" " * 400, in_headers=False),
     "organisations, page 1: the page took longer than 1.5 s to arrive (--page-seconds)", []),
]


@pytest.mark.parametrize(("script", "outcome", "pauses"), [case[1:] for case in HTTP_CASES],
                         ids=[case[0] for case in HTTP_CASES])
def test_a_server_busy_failing_odd_or_slow_is_read_or_stopped_naming_what(
        script: Callable[[], Any], outcome: list[str] | str, pauses: list[float] | None) -> None:
    with SocketServer(script()) as server:
        source, slept = reading(server.url, max_page_bytes=1 << 20)
        began = time.monotonic()
        if isinstance(outcome, list):
            assert read_ids(source) == outcome
        else:
            said = stopped(source)
            assert said.startswith(outcome), said
        # a trickling server is stopped by the page's deadline, not by the server (it would go on for hours)
        assert time.monotonic() - began < 10
    if pauses is not None:
        assert slept == pauses
    else:  # an HTTP date some 30 s ahead: that long, never more than 120 s
        assert len(slept) == 1 and 25 <= slept[0] <= 31, slept


REDIRECTS = [301, 302, 307, 308]


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_redirect_on_the_server_is_followed_with_the_token_and_the_query(status: int) -> None:
    def script(asked: Asked, conn: Any) -> None:
        if asked.target.startswith("/organisations"):
            return answer(status, headers=[("Location", "/v2/organisations")])(asked, conn)
        return OK(asked, conn)

    with SocketServer(script) as server:
        source, _ = reading(server.url)
        assert read_ids(source) == ["huv", "su"]
        assert [a.target.split("?")[0] for a in server.asked] == ["/organisations", "/v2/organisations"]
        assert "limit=100" in server.asked[1].target  # (the query kept)
        assert {a.headers["authorization"] for a in server.asked} == {f"Bearer {TOKEN}"}


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_redirect_to_another_server_is_not_followed_and_nothing_is_sent_there(status: int) -> None:
    with SocketServer(OK) as elsewhere, \
            SocketServer(answer(status, headers=[("Location", f"{elsewhere.url}/organisations")])) as server:
        source, _ = reading(server.url)
        said = stopped(source)
        assert "redirects to another server" in said and "not followed, the token would go along" in said, said
        assert elsewhere.asked == []


def test_a_redirect_loop_is_stopped() -> None:
    def script(asked: Asked, conn: Any) -> None:
        answer(302, headers=[("Location", f"/organisations?n={len(server.asked)}")])(asked, conn)

    with SocketServer(script) as server:
        source, _ = reading(server.url)
        assert stopped(source) == "organisations, page 1: more than 5 redirects"
        assert len(server.asked) == 6


def test_https_is_never_left_for_http_by_a_redirect_or_a_next_link() -> None:
    """(https cannot be served here on a socket: the server is httpx's mock, the rule the same.)"""
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("pageToken") == "2":
            return httpx.Response(200, json={"data": []})
        if "redirect" in request.url.path:
            return httpx.Response(301, headers={"Location": "http://ss12000.test/organisations"})
        return httpx.Response(200, json={"data": [HUV]}, headers={
            "Link": '<http://ss12000.test/organisations?pageToken=2>; rel="next"'})

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="https://ss12000.test")
    source = HttpSource("https://ss12000.test", TOKEN, client=client, sleep=lambda _: None)
    assert "the next page's link points at another server" in stopped(source)
    with pytest.raises(SourceError, match="HTTP 301 redirects to another server"):
        source.read("redirect", None, lambda *_: None)


# -- paging --------------------------------------------------------------------------------------------------------

def paged(pages: dict[str | None, dict[str, Any] | Callable[[], Any]]) -> Callable[[Asked, Any], None]:
    """A server of pages by the pageToken asked (None: the first page): each a body, or a script."""
    def script(asked: Asked, conn: Any) -> None:
        token = httpx.URL(asked.target).params.get("pageToken")
        page = pages[token]
        if callable(page):
            return page()(asked, conn)
        return answer(200, json.dumps(page).encode(), JSON)(asked, conn)
    return script


def _org(n: int, **over: Any) -> dict[str, Any]:
    return {"id": f"o{n}", "displayName": f"Enhet {n}", "organisationType": "Skolenhet",
            "schoolUnitCode": f"{29990000 + n}", "parentOrganisation": {"id": "huv"}, **over}


def _endless(new_items: bool) -> Callable[[Asked, Any], None]:
    def script(asked: Asked, conn: Any) -> None:
        n = int(httpx.URL(asked.target).params.get("pageToken", "0"))
        items = [_org(n)] if new_items else [HUV]
        answer(200, json.dumps({"data": items, "pageToken": str(n + 1)}).encode(), JSON)(asked, conn)
    return script


BAD = {**_org(1), "displayName": None}  # refused on its own (its id read): displayName is required
PAGING_CASES: list[tuple[str, Callable[[Asked, Any], None], list[str] | str]] = [
    ("a pageToken that loops A, B, A", paged({None: {"data": [HUV], "pageToken": "A"},
                                             "A": {"data": [_org(1)], "pageToken": "B"},
                                             "B": {"data": [_org(2)], "pageToken": "A"}}),
     "organisations, page 3: the server repeated a pageToken"),
    ("a pageToken that never ends, with new items", _endless(True),
     "organisations, page 20: more than 20 pages (20 items read, 1.0 a page where --page-size asked 100); "
     "--max-pages reads more"),
    ("a pageToken that never ends, nothing new", _endless(False),
     "organisations, page 6: 5 pages in a row without a new item"),
    ("a page size the server changes", paged({None: {"data": [HUV], "pageToken": "2"},
                                             "2": {"data": [_org(n) for n in range(1, 4)], "pageToken": "3"},
                                             "3": {"data": [_org(4), _org(5)]}}),
     ["huv", "o1", "o2", "o3", "o4", "o5"]),
    ("an empty page with a next token", paged({None: {"data": [], "pageToken": "2"},
                                              "2": {"data": [HUV], "pageToken": "3"},
                                              "3": {"data": [], "pageToken": None}}), ["huv"]),
    ("an item on two pages alike: read once", paged({None: {"data": [HUV, _org(1)], "pageToken": "2"},
                                                    "2": {"data": [_org(1), _org(2)]}}), ["huv", "o1", "o2"]),
    ("an item on two pages otherwise", paged({None: {"data": [HUV, _org(1)], "pageToken": "2"},
                                             "2": {"data": [_org(1, displayName="Ny")]}}),
     "organisations, page 2: item o1 is on page 1 too, with other content: the source changed while it was read"),
    ("an item refused on a page, read on a later one", paged({None: {"data": [HUV, BAD], "pageToken": "2"},
                                                              "2": {"data": [_org(1)]}}),
     "organisations, page 2: item o1 was refused where it stood before (displayName: Field required (page 1, item "
     "1)), and is read here: the source changed while it was read"),
    ("an item read on a page, refused on a later one", paged({None: {"data": [HUV, _org(1)], "pageToken": "2"},
                                                              "2": {"data": [BAD]}}),
     "organisations, page 2: item o1 is on page 1 too, read there, and refused here (displayName: Field required "
     "(page 2, item 0)): the source changed while it was read"),
    ("an item refused on two pages: refused once", paged({None: {"data": [HUV, BAD], "pageToken": "2"},
                                                         "2": {"data": [BAD]}}), ["huv"]),
    ("a next page on another server (Link)", lambda asked, conn: answer(200, PAGE, [
        ("Link", '<http://127.0.0.2:9/organisations?pageToken=2>; rel="next"')])(asked, conn),
     "organisations, page 1: the next page's link points at another server"),
    ("a next page on another server (in the body)", lambda asked, conn: answer(200, json.dumps({
        "data": [HUV], "links": {"next": "http://127.0.0.2:9/organisations?page=2"}}).encode())(asked, conn),
     "organisations, page 1: the next page's link ('links.next' in the body) points at another server"),
]


@pytest.mark.parametrize(("script", "outcome"), [case[1:] for case in PAGING_CASES],
                         ids=[case[0] for case in PAGING_CASES])
def test_paging_that_loops_never_ends_or_repeats_is_read_once_or_stopped(
        script: Callable[[Asked, Any], None], outcome: list[str] | str) -> None:
    with SocketServer(script) as server:
        source, _ = reading(server.url, max_pages=20, max_empty_pages=5)
        if isinstance(outcome, list):
            assert read_ids(source) == outcome
        else:
            said = stopped(source)
            assert said.startswith(outcome), said
        assert all("127.0.0.2" not in a.target for a in server.asked)


def test_an_item_refused_on_two_pages_is_refused_once_and_never_sent() -> None:
    """The rule of the case above, in the plan: refused (kept back), not sent, said once."""
    pages = paged({None: {"data": [HUV, SU, BAD], "pageToken": "2"}, "2": {"data": [BAD]}})

    def script(asked: Asked, conn: Any) -> None:
        if asked.target.startswith("/organisations"):
            return pages(asked, conn)
        return answer(200, b'{"data": []}', JSON)(asked, conn)

    with SocketServer(script) as server:
        source, _ = reading(server.url)
        the_plan, _ = read_and_plan(source, since=None, naive_zone=ZONE)
    assert [(r.entity, r.id) for r in the_plan.refused] == [("organisations", "o1")]
    assert "o1" not in {c["data"]["unit_id"] for c in the_plan.changes["organisations"]}


# -- OAuth 2.0 -----------------------------------------------------------------------------------------------------

class Issuer:
    """A token endpoint issuing `tok-<n>-…` (an hour's life), or echoing the client's secret in its refusal."""

    def __init__(self, *, echo: bool = False) -> None:
        self.issued = 0
        self.echo = echo

    def __call__(self, asked: Asked, conn: Any) -> None:
        if self.echo:
            body = {"error": "invalid_client", "error_description": f"no client with the secret {SECRET}"}
            return answer(401, json.dumps(body).encode(), JSON)(asked, conn)
        self.issued += 1
        body = {"access_token": f"tok-{self.issued}-abcdefgh", "token_type": "Bearer", "expires_in": 3600}
        return answer(200, json.dumps(body).encode(), JSON)(asked, conn)


def taking(accepted: Callable[[str, set[str]], bool], pages: int = 4) -> Callable[[Asked, Any], None]:
    """An API of `pages` pages that answers 401 (echoing the token, as some do) where `accepted(token, used)` is not."""
    used: set[str] = set()

    def script(asked: Asked, conn: Any) -> None:
        token = asked.headers.get("authorization", "")
        if not accepted(token, used):
            body = {"code": "invalid_token", "message": f"{token} is expired"}
            return answer(401, json.dumps(body).encode(), JSON)(asked, conn)
        used.add(token)
        n = int(httpx.URL(asked.target).params.get("pageToken", "1"))
        body = {"data": [_org(n)], "pageToken": str(n + 1) if n < pages else None}
        return answer(200, json.dumps(body).encode(), JSON)(asked, conn)
    return script


def test_a_token_expired_mid_import_is_renewed_once_and_the_rest_read() -> None:
    """The first token is refused from the third page on (revoked, or the server's clock ahead): one new token."""
    first_pages: list[str] = []

    def only_two(token: str, used: set[str]) -> bool:
        if token.startswith("Bearer tok-1-"):
            first_pages.append(token)
            return len(first_pages) <= 2
        return True

    issuer = Issuer()
    with SocketServer(issuer) as endpoint, SocketServer(taking(only_two)) as server:
        auth = ClientCredentials(f"{endpoint.url}/token", "importer", SECRET)
        source, _ = reading(server.url, token=None, auth=auth)
        assert read_ids(source) == ["o1", "o2", "o3", "o4"]
    assert issuer.issued == 2
    assert [note for note in source.notes if "HTTP 401" in note] == [
        "organisations, page 3: HTTP 401, a new token asked for and the page asked again"]


def test_a_server_refusing_each_new_token_after_a_page_stops_rather_than_loop() -> None:
    """Failed on the old code: a token asked for every page (50 pages, 50 tokens), and the run went on."""
    issuer = Issuer()
    with SocketServer(issuer) as endpoint, \
            SocketServer(taking(lambda token, used: token not in used, pages=50)) as server:
        auth = ClientCredentials(f"{endpoint.url}/token", "importer", SECRET)
        source, _ = reading(server.url, token=None, auth=auth)
        said = stopped(source)
    assert issuer.issued == 2
    assert said.startswith("organisations, page 3: HTTP 401 (invalid_token: Bearer [REDACTED] is expired); the server "
                           "refused the token --token-url issued after its last 401 too"), said
    assert "tok-" not in said and "(2 tokens this run)" in said


def test_a_token_endpoint_trickling_its_answer_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oauth, "ANSWER_SECONDS", 1.0)
    with SocketServer(trickled(b'{"access_token": "x"}', in_headers=True)) as endpoint, SocketServer(OK) as server:
        auth = ClientCredentials(f"{endpoint.url}/token", "importer", SECRET, timeout=1)
        source, _ = reading(server.url, token=None, auth=auth)
        began = time.monotonic()
        said = stopped(source)
        assert time.monotonic() - began < 10
    assert said == ("organisations, page 1: token endpoint: its answer took longer than 1 s to arrive (a token's "
                    "answer is a few hundred bytes)")
    assert server.asked == []


def test_a_token_endpoint_answering_without_end_is_stopped_at_a_megabyte() -> None:
    """Failed on the old code: the answer was read whole into memory, for as long as it came."""
    with SocketServer(endless_chunks()) as endpoint, SocketServer(OK) as server:
        auth = ClientCredentials(f"{endpoint.url}/token", "importer", SECRET, timeout=1)
        source, _ = reading(server.url, token=None, auth=auth)
        said = stopped(source)
    assert said == (f"organisations, page 1: token endpoint: its answer is larger than {oauth.ANSWER_BYTES} bytes (a "
                    "token's answer is a few hundred bytes)")
    assert server.asked == []


def test_a_token_endpoints_gzipped_answer_is_read() -> None:
    body = gzip.compress(json.dumps({"access_token": "tok-gz-abcdefgh", "token_type": "Bearer"}).encode())
    with SocketServer(answer(200, body, [*JSON, ("Content-Encoding", "gzip")])) as endpoint, \
            SocketServer(OK) as server:
        auth = ClientCredentials(f"{endpoint.url}/token", "importer", SECRET)
        source, _ = reading(server.url, token=None, auth=auth)
        assert read_ids(source) == ["huv", "su"]
        assert server.asked[0].headers["authorization"] == "Bearer tok-gz-abcdefgh"


# -- nothing sensitive said ----------------------------------------------------------------------------------------

def _echo(status: int) -> Callable[[Asked, Any], None]:
    def script(asked: Asked, conn: Any) -> None:
        body = {"code": "refused", "message": f"header was {asked.headers.get('authorization')}"}
        return answer(status, json.dumps(body).encode(), JSON)(asked, conn)
    return script


@pytest.mark.parametrize("status", [400, 401, 403, 404, 500])
def test_a_server_echoing_the_bearer_token_in_its_error_is_said_without_it(status: int) -> None:
    with SocketServer(_echo(status)) as server:
        source, _ = reading(server.url)
        said = stopped(source)
    assert TOKEN not in said and "header was Bearer [REDACTED]" in said, said


def test_a_note_echoing_the_token_is_said_without_it() -> None:
    """`expand` refused (a note, said as the run goes on) with the server's words, which quote the token."""
    def script(asked: Asked, conn: Any) -> None:
        if "expand" in asked.target:
            body = {"code": "bad_expand", "message": f"no expand for {TOKEN}"}
            return answer(400, json.dumps(body).encode(), JSON)(asked, conn)
        return answer(200, json.dumps({"data": [{"id": "p1"}]}).encode(), JSON)(asked, conn)

    with SocketServer(script) as server:
        source, _ = reading(server.url)
        source.read("persons", None, lambda *_: None, "groupMemberships")
    assert source.notes and all(TOKEN not in note for note in source.notes), source.notes
    assert "no expand for [REDACTED]" in source.notes[0]


def test_a_token_endpoint_echoing_the_client_secret_is_said_without_it() -> None:
    with SocketServer(Issuer(echo=True)) as endpoint, SocketServer(OK) as server:
        auth = ClientCredentials(f"{endpoint.url}/token", "importer", SECRET)
        source, _ = reading(server.url, token=None, auth=auth)
        said = stopped(source)
    assert said == ("organisations, page 1: token endpoint: HTTP 401 (invalid_client: no client with the secret "
                    "[REDACTED])")


@pytest.mark.parametrize(("text", "kept"), [
    (f"x {SECRET} y", "x [REDACTED] y"), (f"Bearer {TOKEN}", "Bearer [REDACTED]"), ("authorization: bearer abc.d-e.f9",
                                                                                      "authorization: bearer [REDACTED]"),
    ("send a Bearer token, Bearer authentication", "send a Bearer token, Bearer authentication"),
    ("page 1 of abcd", "page 1 of [REDACTED]"),  # a short secret, whole
    ("page 1 of abcdef", "page 1 of abcdef"),  # (not a part of a word)
])
def test_secrets_are_redacted_whole_and_short_ones_only_as_words(text: str, kept: str) -> None:
    assert without_secrets(text, [SECRET, "abcd", "1", ""]) == kept


CIVIC_SPELLINGS = [{"civicNo": {"value": PIN, "nationality": "SE"}}, {"civicNo": PIN.replace("-", "")},
                   {"CivicNo": PIN}, {"civic_no": PIN[2:]}, {"personnummer": PIN}, {"personNumber": PIN},
                   {"personalIdentityNumber": PIN}, {"externalIdentifiers": [{"value": PIN,
                                                                              "context": "personnummer"}]}]


def test_civic_numbers_in_any_spelling_never_reach_what_is_sent_nor_said(tmp_path: Path, monkeypatch) -> None:
    """The whole command against a socket server whose persons carry civic numbers in any spelling, and whose
    `expand` refusal quotes one: neither the changes sent to reporting nor anything said holds one."""
    persons = [{"id": f"p{n}", "enrolments": [{"enroledAt": {"id": "su"}, "schoolYear": 7, "schoolType": "GR",
                                                "startDate": "2026-08-17"}], **spelling}
               for n, spelling in enumerate(CIVIC_SPELLINGS, 1)]
    served = entities(persons=persons, groups=[{k: v for k, v in GROUP.items() if k != "groupMemberships"}])

    def script(asked: Asked, conn: Any) -> None:
        entity = httpx.URL(asked.target).path.strip("/")
        if "expand" in asked.target:
            body = {"code": "bad_expand", "message": f"expand not for {PIN}"}
            return answer(400, json.dumps(body).encode(), JSON)(asked, conn)
        return answer(200, json.dumps({"data": served.get(entity, [])}).encode(), JSON)(asked, conn)

    reporting = Reporting()
    sent: list[bytes] = []
    handle = reporting.handle
    monkeypatch.setattr(reporting, "handle", lambda request: (sent.append(request.content), handle(request))[1])
    with SocketServer(script) as server:
        exit_code, said = run(monkeypatch, ["--url", server.url, "--token", TOKEN], None, reporting)
    assert exit_code == 0, said
    assert "persons, page 1: HTTP 400 to expand=groupMemberships (bad_expand: expand not for [REDACTED])" in said
    everything = said + b"".join(sent).decode()
    assert not contains_personal_identity_number(everything) and "121212" not in everything, said
    assert TOKEN not in said


def test_the_command_says_a_stop_without_the_tokens_it_was_given(tmp_path: Path, monkeypatch) -> None:
    with SocketServer(_echo(401)) as server:
        exit_code, said = run(monkeypatch, ["--url", server.url, "--token", TOKEN], None, Reporting())
    assert exit_code == 1 and "import stopped: organisations, page 1: HTTP 401" in said, said
    assert TOKEN not in said and "nothing was sent to reporting" in said


# -- many refusals -------------------------------------------------------------------------------------------------

def test_many_refused_items_list_fifty_an_entity_and_count_the_rest_by_field(tmp_path: Path, monkeypatch) -> None:
    """Failed on the old code: 300 groups without a displayName were 300 lines of the same rule (a server of 100,000
    such items printed 100,000, every run). Now 50, and the rest counted by field; all of them in the table and in
    --strict's count."""
    groups = [{**GROUP, "id": f"g{n}", "displayName": None if n % 3 else "", "groupMemberships": []}
              for n in range(300)]
    exit_code, said = run(monkeypatch, dump(tmp_path, groups=groups, activities=[]), None, Reporting())
    assert exit_code == 3, said
    assert len(re.findall(r"refused groups g\d+: ", said)) == REFUSED_LISTED
    assert ("refused groups: 250 more, not listed (the first 50 are; by field: displayName: 250)") in said, said
    assert row(said, "groups")[4] == "300" and "--strict: 300 refused" in said, said


def test_the_rest_of_the_refusals_are_counted_by_field_an_entrys_index_left_out() -> None:
    class Plan:
        refused = [type("R", (), {"entity": "activities", "id": f"a{n}", "organisers": (), "reason": reason})()
                   for n, reason in enumerate(["teachers[0].duty: Field required"] * 51
                                              + [f"teachers[{n}].duty: Field required" for n in range(3)]
                                              + ["groups[1].id: Field required", "7 more entries refused so"])]

    said = _refused_said(Plan())  # type: ignore[arg-type]
    assert len(said) == REFUSED_LISTED + 1
    assert said[-1] == ("refused activities: 6 more, not listed (the first 50 are; by field: teachers[].duty: 4, "
                        "groups[].id: 1, other: 1)")
