"""Round 25: what every page of a list is asked with, and what other SS 12000 servers do that the specification
allows (or that breaks it) on the way. Each test failed on the code before it, as its docstring says.

* `expand` went with the first page only. A server that honours `expand` per request (as the specification has it:
  a query parameter of each GET, not a property of the list) answered page 2 and on without `_embedded`, and the
  persons there stated no memberships: their groups' members were taken from page 1 alone. Now every page is asked
  with it — beside a pageToken (`expand` is no filter: only filters may not go along with a pageToken), and added to
  a next link (absolute or relative, with or without its query, in a `Link` header or in the body) that does not
  carry it. A next link without a pageToken gets the first page's filter and `limit` too; a server refusing what was
  added is asked the link as it gave it.
* a page naming its next page in the body by a name not read (`page_token`, `cursor`, `next_cursor`, `hasMore`, …)
  was read as the list's last: the rest was lost unsaid. A page token in snake case is followed (and asked back as
  `page_token`); any other such key with a value stops the import naming the entity, the page and the key. So does
  a header of a server's own (`X-Next-Page-Token`, `X-Continuation`, `X-Has-More`) when no next page is read.
* a pageToken that is the next page's URL on the server (as some servers put it) went back as `?pageToken=http…`
  (a 400, "invalid token"): it is followed as a link now, said once.
* a list whose pages held fewer items than the server says it holds (`X-Total-Count`, `totalCount`, `@odata.count`)
  was read as whole: it stops, naming what the server said and what the pages held.
* a TLS failure (a certificate not trusted, a port speaking plain HTTP) was asked again six times as a network's
  passing fault, then said as "ConnectError": now said as what it is, at once, with how to trust an own CA.
* an access_token from --token-url that no header takes ("tök": a UnicodeEncodeError, a traceback; a line end) is
  refused naming the rule, never quoted.
* half a UTF-16 surrogate pair escaped in a string (`"\\ud800"` alone; RFC 8259 §8.2: parsers differ) was read
  by the streaming parser as "?" (a name changed unsaid) or raised a UnicodeDecodeError (a traceback): now the page
  (or the folder's file, or the entity asked by id) is refused at its line and column. A pair is its character.
* gzip in several members (a server compressing as it streams) was read to its first member's end; codings listed
  one after another ("gzip, gzip", "identity, gzip") were refused as unknown: both are read now (at most 3 codings).
* what the command printed of what servers said was read as console markup ("[/x]" in a server's error: a
  MarkupError, a traceback from the stop's own handler) and notes were not redacted (a refused `expand`'s note
  quoting the server's error printed its civic number): now escaped and redacted, every line.
* a `Link` header's next link with other relation types beside it (`rel="next last"`), or `rel`/`next` in another
  case, was no next link (httpx keys links by `rel` whole and exact): the first page was the whole list.
* a 200 with an empty body, or with a page of HTML or XML, was "not JSON … line 1, column 1: Expecting value":
  now said as what it is.
* a date-time whose day in Stockholm lies beyond the calendar (.NET's DateTime.MaxValue, "9999-12-31T23:59:59.9999999Z",
  its "no end") was an OverflowError out of the model: a traceback. And an end date after the directory's last day
  (2199-12-31; 9999-12-31 is many systems' "no end"), or a start or an end before its first (0001-01-01, .NET's unset
  date), refused every such membership and duty: it is none now, counted per field and said.
* a 400 or 422 to a page asked with `limit` says the limit and --page-size (a server may refuse a page larger than its
  own largest rather than answer fewer items).
* a redirect (on the same server) whose Location drops the query lost the page's pageToken ("the server repeated a
  pageToken") and its `expand`: what the Location leaves out of the request's query goes along.

The server is an `httpx.MockTransport` handler: no network, no pauses.
"""

from __future__ import annotations

import gzip
import json
import ssl
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_ss12000_real_servers import Reporting
from typer.testing import CliRunner

from ss12000_fixtures import ACTIVITY, DUTY, HUV, PIN, SU, ZONE
from styrkedja_cli.main import app
from styrkedja_cli.ss12000 import command, summary
from styrkedja_cli.ss12000.command import read_and_plan
from styrkedja_cli.ss12000.oauth import ClientCredentials, TokenError
from styrkedja_cli.ss12000.source import FolderSource, HttpSource, SourceError, asked_after
from styrkedja_contracts.identifiers import contains_personal_identity_number

BASE = "http://ss12000.test"
BARE_GROUPS = [{"id": f"g{n}", "displayName": f"7{n}", "organisation": {"id": "su"}, "startDate": "2026-08-17"}
               for n in range(3)]


def person(n: int) -> dict[str, Any]:
    """Person p<n>, a member of group g<n % 3> (stated only under `_embedded`, as `expand=groupMemberships` has it)."""
    return {"id": f"p{n}", "givenName": "A", "familyName": "B", "civicNo": {"value": PIN},
            "_embedded": {"groupMemberships": [{"group": {"id": f"g{n % 3}"}, "startDate": "2026-08-17"}]}}


PERSONS = [person(n) for n in range(7)]
ENTITIES = {"organisations": [HUV, SU], "groups": BARE_GROUPS, "duties": [DUTY], "activities": [ACTIVITY],
            "persons": PERSONS, "syllabuses": []}


class PerRequest:
    """A server honouring every query parameter per request: `expand` (else no `_embedded`), `limit` (at most
    `cap`), and paging by offset in the way `next` says: "token" (a pageToken in the body), "link" (a Link header
    with an absolute URL), "relative" (a relative Link), "bare" (a relative Link without any of the request's query
    but the cursor), "echo" (the server's own URL for the next page: the request's query with the cursor replaced),
    "body" (a `links.next` in the body, relative, the cursor alone)."""

    def __init__(self, next_by: str, cap: int = 2) -> None:
        self.next_by, self.cap = next_by, cap
        self.asked: list[httpx.URL] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url)
        url = request.url
        entity = url.path.strip("/")
        if entity not in ENTITIES:
            return httpx.Response(404)
        if len(url.params.get_list("expand")) > 1:
            return httpx.Response(400, json={"code": "invalid_parameter", "message": "expand twice"})
        at = int(url.params.get("pageToken", url.params.get("cursor", "0")))
        size = min(int(url.params.get("limit", "100")), self.cap)
        items = ENTITIES[entity][at:at + size]
        if "groupMemberships" not in url.params.get_list("expand"):
            items = [{k: v for k, v in item.items() if k != "_embedded"} for item in items]
        body: dict[str, Any] = {"data": items}
        headers: dict[str, str] = {}
        after = at + size
        if after < len(ENTITIES[entity]):
            link = {"link": f"{BASE}/{entity}?cursor={after}", "relative": f"/{entity}?cursor={after}",
                    "bare": f"?cursor={after}", "echo": str(url.copy_set_param("cursor", str(after))),
                    "body": f"?cursor={after}"}.get(self.next_by)
            if self.next_by == "token":
                body["pageToken"] = str(after)
            elif self.next_by == "body":
                body["links"] = {"next": link}
            else:
                headers["Link"] = f'<{link}>; rel="next"'
        return httpx.Response(200, json=body, headers=headers)


def plan_of(handle: Callable[[httpx.Request], httpx.Response]) -> Any:
    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    source = HttpSource(BASE, client=client, page_size=5, sleep=lambda _: None)
    return read_and_plan(source, since=None, naive_zone=ZONE)[0]


def memberships(the_plan: Any) -> set[tuple[str, str]]:
    return {(c["data"]["group_id"], c["data"]["student_id"]) for c in the_plan.changes.get("memberships", [])}


@pytest.mark.parametrize("next_by", ["token", "link", "relative", "bare", "echo", "body"])
def test_every_page_is_asked_with_the_expansion_however_the_server_pages(next_by: str) -> None:
    """Failed on the old code: page 2 and on were asked without `expand` (a pageToken alone, a next link as given),
    so persons p2-p6 stated no memberships and only g0 and g1 got p0 and p1 as members."""
    server = PerRequest(next_by)
    the_plan = plan_of(server)
    assert memberships(the_plan) == {(f"g{n % 3}", f"p{n}") for n in range(7)}
    assert not the_plan.members_unknown and not the_plan.refused
    persons = [u for u in server.asked if u.path == "/persons"]
    assert len(persons) == 4  # 2 + 2 + 2 + 1: limit 5 asked, 2 served
    assert all(u.params.get_list("expand") == ["groupMemberships"] for u in persons)
    assert all(u.params.get("limit") == "5" for u in persons)  # a link without it gets it, one with it keeps it
    assert all("expand" not in u.params for u in server.asked if u.path != "/persons")
    assert not contains_personal_identity_number(repr(the_plan))


def test_a_server_echoing_its_own_next_url_is_not_asked_for_anything_twice() -> None:
    """Pins what held: a next link carrying the request's query (expand, limit) is asked as it is, no key twice."""
    server = PerRequest("echo")
    plan_of(server)
    assert all(len(u.params.get_list(key)) == 1 for u in server.asked for key in u.params)


class TokenCarriesIt(PerRequest):
    """A server reading the specification strictly: nothing but `limit` beside a pageToken (400), the first page's
    `expand` carried by the token (`"<offset>+"`)."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        self.asked.append(url)
        token = url.params.get("pageToken")
        if token is not None and set(url.params) - {"pageToken", "limit"}:
            return httpx.Response(400, json={"code": "invalid_parameter", "message": "only limit with pageToken"})
        if token is not None and token.endswith("+"):
            url = url.copy_set_param("pageToken", token[:-1]).copy_set_param("expand", "groupMemberships")
        answer = super().__call__(httpx.Request("GET", url))
        self.asked.pop()  # the request as served, not as asked
        body = answer.json()
        if "pageToken" in body and "expand" in url.params:
            body["pageToken"] += "+"
        return httpx.Response(answer.status_code, json=body, headers=answer.headers)


def test_a_server_refusing_expand_beside_its_page_token_is_asked_with_the_token_alone_from_then_on() -> None:
    """A server whose token carries the expansion and which refuses anything beside it but `limit` is asked again
    with the token alone, once: the later pages are asked so at once, and every person's memberships are read."""
    server = TokenCarriesIt("token")
    client = httpx.Client(transport=httpx.MockTransport(server), base_url=BASE)
    said: list[str] = []
    source = HttpSource(BASE, client=client, page_size=5, sleep=lambda _: None, on_note=said.append)
    the_plan = read_and_plan(source, since=None, naive_zone=ZONE)[0]
    assert memberships(the_plan) == {(f"g{n % 3}", f"p{n}") for n in range(7)}
    refused = [u for u in server.asked if u.path == "/persons" and "expand" in u.params and "pageToken" in u.params]
    assert len(refused) == 1  # page 2 alone: pages 3 and 4 were asked with the token alone
    assert said == ["persons, page 2: HTTP 400 to expand=groupMemberships beside the pageToken (invalid_parameter: "
                    "only limit with pageToken): asked with the token alone from now on (it carries the first page's "
                    "expand)"]


class LinkAsGiven(PerRequest):
    """A server whose next link (`/persons/after/<offset>`, no query) takes no query: anything added is a 400."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        self.asked.append(url)
        parts = url.path.strip("/").split("/")
        if len(parts) == 3:
            if url.query:
                return httpx.Response(400, json={"code": "invalid_parameter", "message": "no query here"})
            url = httpx.URL(f"{BASE}/{parts[0]}", params={"cursor": parts[2], "expand": "groupMemberships"})
        answer = PerRequest.__call__(self, httpx.Request("GET", url))
        self.asked.pop()
        link = answer.headers.get("link")
        headers = {"Link": link.replace("?cursor=", "/after/")} if link else {}
        return httpx.Response(answer.status_code, json=answer.json(), headers=headers)


def test_a_next_link_refusing_what_was_added_to_it_is_asked_as_the_server_gave_it_from_then_on() -> None:
    server = LinkAsGiven("relative")
    client = httpx.Client(transport=httpx.MockTransport(server), base_url=BASE)
    said: list[str] = []
    source = HttpSource(BASE, client=client, page_size=5, sleep=lambda _: None, on_note=said.append)
    the_plan = read_and_plan(source, since=None, naive_zone=ZONE)[0]
    assert memberships(the_plan) == {(f"g{n % 3}", f"p{n}") for n in range(7)}
    assert said == ["groups, page 2: HTTP 400 to the next link with limit added (invalid_parameter: no query here): "
                    "asked again as the server gave it",
                    "persons, page 2: HTTP 400 to the next link with limit, expand added (invalid_parameter: no "
                    "query here): asked again as the server gave it"]




# -- a next page named in the body by a name the importer did not read ----------------------------------------------

def named_by(key: str, value: Callable[[int], Any], *, param: str = "pageToken"
             ) -> tuple[Callable[[httpx.Request], httpx.Response], list[httpx.URL]]:
    """A server paging its lists two items at a time, naming the next page under `key` (a dotted path nests it),
    read back from the query parameter `param` alone."""
    asked: list[httpx.URL] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        entity = request.url.path.strip("/")
        if entity not in ENTITIES:
            return httpx.Response(404)
        at = int(request.url.params.get(param, "0"))
        body: dict[str, Any] = {"data": ENTITIES[entity][at:at + 2]}
        if at + 2 < len(ENTITIES[entity]):
            *outer, name = key.split(".")
            inner = body
            for step in outer:
                inner = inner.setdefault(step, {})
            inner[name] = value(at + 2)
        return httpx.Response(200, json=body)

    return handle, asked


@pytest.mark.parametrize("key", ["page_token", "next_page_token", "meta.next_page_token"])
def test_a_page_token_in_snake_case_is_followed_and_asked_back_in_its_spelling(key: str) -> None:
    """Failed on the old code: `page_token` in the body was not read, so each list was its first page (2 of 3 groups,
    2 of 7 persons) and a full run would have removed the rest from the directory, unsaid."""
    handle, asked = named_by(key, str, param="page_token")
    the_plan = plan_of(handle)
    assert sorted(c["data"]["unit_id"] for c in the_plan.changes["groups"]) == ["g0", "g1", "g2"]
    assert all("pageToken" not in u.params for u in asked)


@pytest.mark.parametrize(("key", "value"), [
    ("cursor", str), ("next_cursor", str), ("nextCursor", str), ("meta.nextCursor", str),
    ("continuationToken", str), ("next_token", str), ("nextPage", lambda at: at // 2 + 1), ("hasMore", bool),
    ("pagination.has_more", bool)])
def test_a_body_saying_a_next_page_follows_by_a_name_not_read_stops_the_import(key: str, value: Any) -> None:
    """Failed on the old code: the page was read as the list's last (2 of 3 groups imported), the rest lost unsaid.
    Now the import stops naming the entity, the page and the key, nothing sent."""
    handle, _ = named_by(key, value)
    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    with pytest.raises(SourceError, match=rf"^groups, page 1: no pageToken, but '{key}' in the body may say that a "
                                          r"next page follows.*nothing imported$"):
        read_and_plan(HttpSource(BASE, client=client, page_size=5), since=None, naive_zone=ZONE)


@pytest.mark.parametrize("last", [{"next_cursor": None}, {"hasMore": False}, {"cursor": ""}, {"nextPage": 0},
                                  {"pageToken": None, "links": {"next": None, "self": "/groups"}}])
def test_a_last_page_saying_nothing_follows_in_any_spelling_ends_the_list(last: dict[str, Any]) -> None:
    """Pins what held: a key that says no page follows (null, false, "", 0) ends the list as a missing pageToken."""
    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        return httpx.Response(200, json={"data": ENTITIES[entity], **last}) if entity in ENTITIES else \
            httpx.Response(404)

    assert sorted(c["data"]["unit_id"] for c in plan_of(handle).changes["groups"]) == ["g0", "g1", "g2"]


# -- TLS --------------------------------------------------------------------------------------------------------------

def untrusted() -> ssl.SSLCertVerificationError:
    """As the ssl module raises it for a self-signed certificate."""
    error = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                                            "self-signed certificate in certificate chain (_ssl.c:1006)")
    error.verify_message, error.reason = "self-signed certificate in certificate chain", "CERTIFICATE_VERIFY_FAILED"
    return error


@pytest.mark.parametrize(("fault", "said"), [
    (untrusted(), r"TLS: the server's certificate is not accepted \(self-signed certificate in certificate chain\); "
                  r"not asked again\. .*SSL_CERT_FILE"),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"),
     r"TLS: no secure connection could be made \(.*wrong version number.*\); not asked again\. .*http://"),
])
def test_a_tls_failure_is_named_as_one_at_once_not_asked_again(fault: ssl.SSLError, said: str) -> None:
    """Failed on the old code: httpx's ConnectError (an ssl error its cause, as httpcore raises it) was asked again six
    times, 31 s of pauses, then said as "ConnectError (6 attempts)": nothing of a certificate."""
    def handle(request: httpx.Request) -> httpx.Response:
        try:
            raise fault
        except ssl.SSLError as error:
            raise httpx.ConnectError(str(error)) from error

    slept: list[float] = []
    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    with pytest.raises(SourceError, match=rf"^organisations, page 1: {said}"):
        HttpSource(BASE, client=client, sleep=slept.append).read("organisations", None, lambda *_: None)
    assert slept == []


def test_a_token_endpoint_that_never_answers_is_named_with_its_wait_and_option() -> None:
    """Failed on the old code: "token endpoint: ReadTimeout (4 attempts)": not where, nor after how long, nor what
    sets the wait and the address (`styrkedja_kit.reach`'s rule, as for the SS 12000 server and reporting)."""
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    auth = ClientCredentials("https://idp.test/token?x=1", "client", "secret", sleep=lambda _: None,
                             client=httpx.Client(transport=httpx.MockTransport(handle), timeout=7))
    with pytest.raises(TokenError) as error:
        auth.refresh()
    assert str(error.value) == ("the token endpoint at https://idp.test/token did not answer within 7 s (--timeout, "
                                "ReadTimeout, 4 attempts); its address is set by --token-url"), error.value
    assert "secret" not in str(error.value)


def test_a_token_endpoint_failing_tls_is_named_as_such_at_once() -> None:
    """Failed on the old code: asked again six times, then "token endpoint: ConnectError (6 attempts)"."""
    def handle(request: httpx.Request) -> httpx.Response:
        try:
            raise untrusted()
        except ssl.SSLError as error:
            raise httpx.ConnectError(str(error)) from error

    slept: list[float] = []
    auth = ClientCredentials("https://idp.test/token", "client", "secret",
                             client=httpx.Client(transport=httpx.MockTransport(handle)), sleep=slept.append)
    with pytest.raises(TokenError, match=r"^token endpoint: TLS: the server's certificate is not accepted "
                                         r"\(self-signed certificate in certificate chain\)") as error:
        auth.refresh()
    assert slept == [] and "secret" not in str(error.value)


# -- half a surrogate pair --------------------------------------------------------------------------------------------

def page_of(groups_json: str) -> Callable[[httpx.Request], httpx.Response]:
    """A server whose /groups is `{"data": [<groups_json>]}` as written (escapes as they are), the rest `ENTITIES`."""
    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        if entity == "groups":
            return httpx.Response(200, content=f'{{"data": [{groups_json}]}}'.encode())
        return httpx.Response(200, json={"data": ENTITIES[entity]}) if entity in ENTITIES else httpx.Response(404)
    return handle


GROUP_JSON = '{{"id": "{ident}", "displayName": "{name}", "organisation": {{"id": "su"}}, "startDate": "2026-08-17"}}'


@pytest.mark.parametrize(("ident", "name"), [("g0", "7A\\ud800"), ("g0", "7A\\uD83D x"), ("g\\udc00", "7A"),
                                             ("g0", "\\\\\\ude00"), ("g0", "\\ude00\\ud83d")])
def test_half_a_surrogate_pair_refuses_the_page_at_its_place(ident: str, name: str) -> None:
    """Failed on the old code: a high half alone was read as "?" (the name changed unsaid), a low half alone was a
    UnicodeDecodeError out of the streaming parser: a traceback."""
    client = httpx.Client(transport=httpx.MockTransport(page_of(GROUP_JSON.format(ident=ident, name=name))),
                          base_url=BASE)
    with pytest.raises(SourceError, match=r"^groups, page 1: not JSON by RFC 8259: a string escapes half a UTF-16 "
                                          r"surrogate pair .* at line 1, column \d+$"):
        read_and_plan(HttpSource(BASE, client=client), since=None, naive_zone=ZONE)


def padded(pad: int, name: str) -> str:
    """Group g0 named `name`, whose escapes begin at byte `pad` + 51 of the page (an unknown field before it)."""
    return GROUP_JSON.format(ident="g0", name=name).replace('"displayName"', f'"x": "{"x" * pad}", "displayName"')


#: the pads putting a pair's 12 bytes of escapes across the page's first read (`PARSE_CHUNK_BYTES`, 4096) at each byte
ACROSS = range(4096 - 51 - 13, 4096 - 51 + 1)


@pytest.mark.parametrize("pad", ACROSS)
def test_a_surrogate_pair_escaped_anywhere_on_a_page_is_its_character(pad: int) -> None:
    """Pins the rule's other side: a pair (an emoji, as `json.dumps` escapes it) split between two reads at any
    byte, and a backslash escaped before a `u` (text), are read as written."""
    groups = ",".join([padded(pad, "7A \\ud83d\\ude00"), GROUP_JSON.format(ident="g1", name="\\\\ud800")])
    names = {c["data"]["unit_id"]: c["data"]["name"] for c in plan_of(page_of(groups)).changes["groups"]}
    assert names == {"g0": "7A \U0001f600", "g1": "\\ud800"}


@pytest.mark.parametrize("pad", ACROSS)
@pytest.mark.parametrize("name", ["7A \\ud83d\\u0041", "7A \\ud83d", "7A  \\u0041\\ude00"])
def test_half_a_pair_split_between_two_reads_is_refused_too(pad: int, name: str) -> None:
    client = httpx.Client(transport=httpx.MockTransport(page_of(padded(pad, name))), base_url=BASE)
    with pytest.raises(SourceError, match=r"^groups, page 1: not JSON by RFC 8259: a string escapes half"):
        read_and_plan(HttpSource(BASE, client=client), since=None, naive_zone=ZONE)


def test_half_a_pair_in_a_folders_file_or_one_entity_asked_by_id_is_refused(tmp_path: Path) -> None:
    """Failed on the old code: the folder's file was a UnicodeDecodeError (a traceback); the entity asked by id was
    read with a string no UTF-8 encoder takes."""
    (tmp_path / "groups.json").write_text('{"data": [' + GROUP_JSON.format(ident="g\\udc00", name="7A") + "]}")
    with pytest.raises(SourceError, match=r"^groups, page groups.json: not JSON by RFC 8259: a string escapes half"):
        FolderSource(tmp_path).read("groups", None, lambda *_: None)

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=GROUP_JSON.format(ident="g0", name="7A\\udc00").encode())

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    with pytest.raises(SourceError, match=r"^groups g0: not JSON by RFC 8259: a string escapes half"):
        HttpSource(BASE, client=client).one("groups", "g0")


# -- content codings --------------------------------------------------------------------------------------------------

def coded(coding: str, code: Callable[[bytes], bytes]) -> Callable[[httpx.Request], httpx.Response]:
    """A server answering every list whole, its body `code`d and said to be in `coding`, streamed as sent."""
    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        if entity not in ENTITIES:
            return httpx.Response(404)
        body = json.dumps({"data": ENTITIES[entity]}).encode()
        return httpx.Response(200, stream=httpx.ByteStream(code(body)), headers={"content-encoding": coding})
    return handle


def members(body: bytes) -> bytes:
    """Gzip as a server compressing while it streams writes it: a member per 10 bytes, one after another."""
    return b"".join(gzip.compress(body[at:at + 10]) for at in range(0, len(body), 10))


@pytest.mark.parametrize(("coding", "code"), [
    ("gzip", members), ("gzip, gzip", lambda body: gzip.compress(gzip.compress(body))),
    ("identity, gzip", gzip.compress), ("deflate, gzip", lambda body: gzip.compress(zlib.compress(body))),
])
def test_gzip_in_several_members_and_codings_one_after_another_are_read_whole(coding: str, code: Any) -> None:
    """Failed on the old code: of several gzip members only the first was read (the page refused as not JSON, cut
    short), and a list of codings ("gzip, gzip": a proxy compressing again) was refused as an unknown coding."""
    the_plan = plan_of(coded(coding, code))
    assert sorted(c["data"]["unit_id"] for c in the_plan.changes["groups"]) == ["g0", "g1", "g2"]
    assert memberships(the_plan) == {(f"g{n % 3}", f"p{n}") for n in range(7)}


@pytest.mark.parametrize(("coding", "said"), [
    ("br", r"content-encoding 'br' is not one of gzip, x-gzip, deflate \(the codings asked for: gzip, deflate\)"),
    ("gzip, gzip, gzip, gzip", "content-encoding of 4 codings, one after another: more than 3"),
])
def test_a_coding_not_asked_for_or_too_many_stop_naming_the_page(coding: str, said: str) -> None:
    client = httpx.Client(transport=httpx.MockTransport(coded(coding, lambda body: body)), base_url=BASE)
    with pytest.raises(SourceError, match=f"^organisations, page 1: {said}$"):
        read_and_plan(HttpSource(BASE, client=client), since=None, naive_zone=ZONE)


# -- what the command prints of what servers say ----------------------------------------------------------------------

def command_run(monkeypatch: pytest.MonkeyPatch, handle: Callable[[httpx.Request], httpx.Response]) -> Any:
    """`styrkedja import ss12000 --url …` against `handle`, reporting a stub taking everything (`Reporting`)."""
    real, reporting = httpx.Client, Reporting()

    def route(request: httpx.Request) -> httpx.Response:
        return reporting.handle(request) if request.url.port == 8104 else handle(request)

    monkeypatch.setattr(httpx, "Client", lambda **kw: real(transport=httpx.MockTransport(route), **kw))
    monkeypatch.setattr(command.time, "sleep", lambda _: None)
    return CliRunner().invoke(app, ["import", "ss12000", "--url", BASE, "--token", "t", "--reporting-url",
                                    "http://127.0.0.1:8104"])


def test_a_servers_message_that_looks_like_console_markup_is_printed_as_written(monkeypatch) -> None:
    """Failed on the old code: "[/red]" in a server's error was a rich MarkupError raised from the handler of the
    stop itself (a traceback, nothing said); "[link=…]" would have made a hyperlink of the terminal's."""
    message = "[/red] [bold]x[/] [link=http://evil.test]y"
    result = command_run(monkeypatch, lambda r: httpx.Response(400, json={"code": "bad", "message": message}))
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    assert f"import stopped: organisations, page 1: HTTP 400 (bad: {message})" in " ".join(result.output.split())


def test_a_note_quoting_a_servers_error_never_prints_a_civic_number(monkeypatch) -> None:
    """Failed on the old code: notes were printed as said, and the one of a refused `expand` quotes the server's
    error: its personal identity number was printed."""
    server = PerRequest("token")

    def handle(request: httpx.Request) -> httpx.Response:
        if "expand" in request.url.params:
            return httpx.Response(400, json={"code": "invalid_parameter", "message": f"not for {PIN}"})
        return server(request)

    result = command_run(monkeypatch, handle)
    said = " ".join(result.output.split())
    assert "persons, page 1: HTTP 400 to expand=groupMemberships (invalid_parameter: not for [REDACTED])" in said
    assert not contains_personal_identity_number(result.output)


# -- redirects --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("location", ["/v2{path}", "http://ss12000.test/v2{path}?limit=2"])
def test_a_redirect_whose_location_drops_the_query_is_asked_with_it(location: str) -> None:
    """Failed on the old code: the Location was asked as given, without the page's pageToken (the first page again:
    "groups, page 2: the server repeated a pageToken") and without its `expand`. What the Location names itself
    (`limit=2`) goes as it says."""
    server = PerRequest("token", cap=5)

    def handle(request: httpx.Request) -> httpx.Response:
        if not request.url.path.startswith("/v2/"):
            return httpx.Response(301, headers={"location": location.format(path=request.url.path)})
        return server(httpx.Request("GET", request.url.copy_with(path=request.url.path[3:])))

    the_plan = plan_of(handle)
    assert memberships(the_plan) == {(f"g{n % 3}", f"p{n}") for n in range(7)}
    persons = [u for u in server.asked if u.path == "/persons"]
    assert all(u.params.get_list("expand") == ["groupMemberships"] for u in persons)
    assert {u.params["limit"] for u in persons} == {"5" if location.startswith("/") else "2"}


def test_deleted_entities_paged_by_a_link_without_the_filter_are_asked_with_it() -> None:
    """Failed on the old code: page 2 was asked by the server's link alone, without `after`: a server paging by
    offset over what the filter gives answered the offset of its whole list (g0, g1 deleted before `since` — and g4,
    g5, deleted since, never read: their removals lost)."""
    deleted = [("g0", "2026-01-01"), ("g1", "2026-01-02"), ("g2", "2026-09-02"), ("g3", "2026-09-03"),
               ("g4", "2026-09-04"), ("g5", "2026-09-05")]
    asked: list[httpx.URL] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        after = request.url.params.get("after", "")
        listed = [ident for ident, day in deleted if day > after[:10]]
        at = int(request.url.params.get("cursor", "0"))
        more = {"Link": f'<?cursor={at + 2}>; rel="next"'} if at + 2 < len(listed) else {}
        return httpx.Response(200, json={"data": {"groups": listed[at:at + 2]}}, headers=more)

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    since = datetime(2026, 9, 1, tzinfo=UTC)
    assert HttpSource(BASE, client=client).deleted(since) == ["g2", "g3", "g4", "g5"]
    assert all(u.params["after"] == asked_after(since) for u in asked)


@pytest.mark.parametrize("header", ["X-Next-Page-Token", "X-Continuation", "x-ms-continuation", "X-Cursor",
                                    "X-Has-More", "Next-Page"])
def test_a_header_saying_a_next_page_follows_by_a_name_not_read_stops_the_import(header: str) -> None:
    """Failed on the old code: a server paging by a header of its own had its first page read as the whole list (2 of
    3 groups), the rest lost unsaid. A header saying no page follows ("false", "") ends the list as before."""
    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        if entity not in ENTITIES:
            return httpx.Response(404)
        more = len(ENTITIES[entity]) > 2
        return httpx.Response(200, json={"data": ENTITIES[entity][:2]},
                              headers={header: "true" if more else "false"})

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    with pytest.raises(SourceError, match=rf"^groups, page 1: no pageToken, but the header '{header.lower()}' may "
                                          r"say that a next page follows"):
        read_and_plan(HttpSource(BASE, client=client), since=None, naive_zone=ZONE)


# -- a 200 that is no page --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "kind", "said"), [
    (b"", "application/json", r"HTTP 200 with an empty body, which is no page \(an empty list is \{\"data\": \[\]\}, "
                              r"or a 204\)$"),
    (b" \r\n", None, r"HTTP 200 with an empty body"),
    (b"<?xml version='1.0'?><error>busy</error>", "application/xml",
     r"not JSON \(content-type application/xml\) at line 1, column 1: Expecting value; a page of HTML or XML"),
    (b"Sign in to continue", "text/html; charset=utf-8", r"not JSON .* a page of HTML or XML \(a proxy's, a login's "
                                                          r"or a portal's: is --url the API's base\?\)$"),
])
def test_a_200_that_is_empty_or_a_page_of_markup_says_what_it_is(body: bytes, kind: str | None, said: str) -> None:
    """Failed on the old code: each was "not JSON … at line 1, column 1: Expecting value", which told an empty
    answer from a proxy's login page by nothing."""
    headers = {"content-type": kind} if kind else {}
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body, headers=headers)),
                          base_url=BASE)
    with pytest.raises(SourceError, match=f"^organisations, page 1: {said}"):
        HttpSource(BASE, client=client).read("organisations", None, lambda *_: None)


# -- dates at the calendar's ends -------------------------------------------------------------------------------------

@pytest.mark.parametrize("end", ["9999-12-31T23:59:59.9999999Z", "9999-12-31T23:00:00-05:00",
                                 "0001-01-01T00:00:00+01:00"])
def test_a_date_time_whose_day_in_stockholm_is_beyond_the_calendar_is_no_traceback(end: str) -> None:
    """Failed on the old code: an OverflowError out of the model's validation (a traceback): .NET's DateTime.MaxValue,
    as .NET servers write "no end", is 10000-01-01 in Stockholm."""
    groups = [{**BARE_GROUPS[0], "endDate": end}]

    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        items = groups if entity == "groups" else ENTITIES.get(entity)
        return httpx.Response(200, json={"data": items}) if items is not None else httpx.Response(404)

    the_plan = plan_of(handle)
    assert [c["data"]["unit_id"] for c in the_plan.changes["groups"]] == ["g0"]


def test_a_date_a_system_writes_for_none_is_none_and_said() -> None:
    """Failed on the old code: 9999-12-31, what many systems write for "no end", and 0001-01-01, .NET's unset date,
    refused every membership of such a group and such a duty (the directory takes dates of 1900–2199), and with the
    duty its teaching. A start of 0001-01-01 is none: the membership starts with its group."""
    group = {**BARE_GROUPS[0], "endDate": "9999-12-31", "groupMemberships": [
        {"person": {"id": "p0"}, "startDate": "2026-08-17"},
        {"person": {"id": "p1"}, "startDate": "2026-08-17", "endDate": "2999-12-31T00:00:00Z"},
        {"person": {"id": "p2"}, "startDate": "2026-08-17", "endDate": "2199-12-31"},
        {"person": {"id": "p3"}, "startDate": "0001-01-01T00:00:00", "endDate": "0001-01-01"}]}
    served = {**ENTITIES, "groups": [group], "persons": [], "activities": [{**ACTIVITY, "groups": [{"id": "g0"}]}],
              "duties": [{**DUTY, "endDate": "9999-12-31T23:59:59.9999999Z"}]}

    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        return httpx.Response(200, json={"data": served[entity]}) if entity in served else httpx.Response(404)

    the_plan = plan_of(handle)
    assert not the_plan.refused
    dates = {c["data"]["student_id"]: (c["data"]["start_date"], c["data"]["end_date"])
             for c in the_plan.changes["memberships"]}
    assert dates == {"p0": ("2026-08-17", None), "p1": ("2026-08-17", None), "p2": ("2026-08-17", "2199-12-31"),
                     "p3": ("2026-08-17", None)}
    assert [c["data"]["end_date"] for c in the_plan.changes["duties"]] == [None]
    assert len(the_plan.changes["activities"]) == 1
    assert the_plan.dates_read_as_none == {"Duty.endDate": 1, "Group.endDate": 1, "Membership.endDate": 2,
                                           "Membership.startDate": 1}
    assert "Membership.endDate: 2 dates before 1900-01-01 or ends after 2199-12-31 (a system's \"none\", such as " \
        "0001-01-01 or 9999-12-31), read as none" in summary._said(the_plan, [])


def test_a_start_after_the_directorys_last_day_is_still_refused() -> None:
    """Pins the rule's bound: a start far ahead is no "none" (read as none, the membership would begin at once)."""
    group = {**BARE_GROUPS[0], "groupMemberships": [{"person": {"id": "p0"}, "startDate": "9999-12-31"}]}

    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        items = [group] if entity == "groups" else ENTITIES.get(entity)
        return httpx.Response(200, json={"data": items}) if items is not None else httpx.Response(404)

    assert [(r.id, r.reason.split(":")[0]) for r in plan_of(handle).refused if r.entity == "memberships"] == [
        ("g0/p0", "groupMemberships[0].startDate")]


@pytest.mark.parametrize("rel", ['rel="next last"', 'rel="Next"', 'REL="next"', 'rel=next', 'rel="prefetch next"'])
def test_a_link_headers_next_in_any_spelling_rfc_8288_allows_is_followed(rel: str) -> None:
    """Failed on the old code (but `rel=next`): httpx keys a Link header's links by their `rel` whole and exact, so
    `rel="next last"`, `rel="Next"` or `REL="next"` named no next page: the first page was taken as the whole list."""
    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        if entity not in ENTITIES:
            return httpx.Response(404)
        at = int(request.url.params.get("cursor", "0"))
        more = {"Link": f"</{entity}?cursor={at + 2}>; {rel}"} if at + 2 < len(ENTITIES[entity]) else {}
        return httpx.Response(200, json={"data": ENTITIES[entity][at:at + 2]}, headers=more)

    the_plan = plan_of(handle)
    assert sorted(c["data"]["unit_id"] for c in the_plan.changes["groups"]) == ["g0", "g1", "g2"]
    assert memberships(the_plan) == {(f"g{n % 3}", f"p{n}") for n in range(7)}


@pytest.mark.parametrize("token", ["t\u00f6k", "abc\r\nX-Injected: 1", "tok en"])
def test_an_issued_token_no_header_takes_stops_naming_the_rule_never_the_token(token: str) -> None:
    """Failed on the old code: "tök" was a UnicodeEncodeError out of httpx (a traceback); a line end went into the
    Authorization header as it is (another header begun, or the request refused by the HTTP library)."""
    issuer = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json={
        "access_token": token, "token_type": "Bearer", "expires_in": 3600})))
    auth = ClientCredentials("https://idp.test/token", "client", "secret", client=issuer)
    client = httpx.Client(transport=httpx.MockTransport(PerRequest("token")), base_url=BASE)
    with pytest.raises(SourceError, match=r"^organisations, page 1: token endpoint: the access_token holds a "
                                          r"character no HTTP header takes") as error:
        HttpSource(BASE, client=client, auth=auth).read("organisations", None, lambda *_: None)
    assert token not in str(error.value) and "secret" not in str(error.value)


def test_a_400_to_a_page_asked_with_a_limit_says_the_limit_and_the_flag() -> None:
    """Failed on the old code: "HTTP 400 (invalid_parameter: …)" alone, when the server refuses a larger page than
    its own largest rather than answer fewer items (the specification lets it answer fewer)."""
    def handle(request: httpx.Request) -> httpx.Response:
        if int(request.url.params.get("limit", "0")) > 50:
            return httpx.Response(400, json={"code": "invalid_parameter", "message": "bad request"})
        return httpx.Response(200, json={"data": []})

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    with pytest.raises(SourceError, match=r"^organisations, page 1: HTTP 400 \(invalid_parameter: bad request\); the "
                                          r"page was asked with limit=100: a server whose largest page is smaller may "
                                          r"refuse it \(--page-size\)$"):
        HttpSource(BASE, client=client).read("organisations", None, lambda *_: None)


# -- a list's size stated by the server -------------------------------------------------------------------------------

@pytest.mark.parametrize(("where", "said"), [("header", "its header x-total-count"),
                                             ("@odata.count", "'@odata.count' in the body"),
                                             ("meta.totalCount", "'meta.totalCount' in the body")])
def test_a_list_whose_pages_held_fewer_items_than_the_server_says_it_holds_stops(where: str, said: str) -> None:
    """Failed on the old code: a server paging in a way the importer does not read (here by a `page` number it never
    names) had its first page read as the whole list, though it said the list holds more."""
    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        if entity not in ENTITIES:
            return httpx.Response(404)
        total = len(ENTITIES[entity])
        body: dict[str, Any] = {"data": ENTITIES[entity][:2]}
        if where == "@odata.count":
            body[where] = total
        elif where == "meta.totalCount":
            body["meta"] = {"totalCount": total}
        return httpx.Response(200, json=body, headers={"X-Total-Count": str(total)} if where == "header" else {})

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    with pytest.raises(SourceError, match=rf"^groups, page 1: the server says the list holds 3 items \({said}\), and "
                                          r"its pages held 2: pages the importer does not follow, or the list changed "
                                          r"while it was read; nothing imported$"):
        read_and_plan(HttpSource(BASE, client=client), since=None, naive_zone=ZONE)


def test_a_stated_size_the_pages_hold_or_exceed_is_read_as_before() -> None:
    """Pins the rule's other side: pages holding what the server says (or more: an item pushed onto the next page
    and read twice) are the list."""
    server = PerRequest("token")

    def handle(request: httpx.Request) -> httpx.Response:
        answer = server(request)
        entity = request.url.path.strip("/")
        if entity not in ENTITIES:
            return answer
        body = {**answer.json(), "totalCount": len(ENTITIES[entity]) - (1 if entity == "persons" else 0)}
        return httpx.Response(200, json=body, headers={"X-Total-Count": str(len(ENTITIES[entity]))})

    assert memberships(plan_of(handle)) == {(f"g{n % 3}", f"p{n}") for n in range(7)}


def test_a_filtered_read_is_not_held_to_the_size_stated_beside_it() -> None:
    """A server may state its whole list's size beside a filtered one (`meta.modified.after`): not a list cut short."""
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": BARE_GROUPS[:1]}, headers={"X-Total-Count": "3"})

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    since = datetime(2026, 9, 1, tzinfo=UTC)
    assert [g.id for g in HttpSource(BASE, client=client).read("groups", since, lambda *_: None)] == ["g0"]
    with pytest.raises(SourceError, match="the server says the list holds 3 items"):
        HttpSource(BASE, client=client).read("groups", None, lambda *_: None)


# -- a pageToken that is a URL ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("deleted", [False, True])
def test_a_page_token_that_is_the_next_pages_url_on_the_server_is_followed_as_a_link(deleted: bool) -> None:
    """Failed on the old code: the URL went back as `?pageToken=http…`, which such a server answers 400 ("invalid
    token"): the import stopped on page 2. A URL to another server stays a token (never followed)."""
    said: list[str] = []
    gone = {"groups": ["g0", "g1", "g2"]}

    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        if "pageToken" in request.url.params and request.url.params["pageToken"].startswith(BASE):
            return httpx.Response(400, json={"code": "invalid_token", "message": "bad token"})
        at = int(request.url.params.get("cursor", "0"))
        listed = gone["groups"] if entity == "deletedEntities" else ENTITIES.get(entity)
        if listed is None:
            return httpx.Response(404)
        data: Any = {"groups": listed[at:at + 2]} if entity == "deletedEntities" else listed[at:at + 2]
        body: dict[str, Any] = {"data": data}
        if at + 2 < len(listed):
            body["pageToken"] = f"{BASE}/{entity}?cursor={at + 2}"
        return httpx.Response(200, json=body)

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE)
    source = HttpSource(BASE, client=client, page_size=5, on_note=said.append)
    if deleted:
        assert source.deleted(datetime(2026, 9, 1, tzinfo=UTC)) == ["g0", "g1", "g2"]
    else:
        assert memberships(read_and_plan(source, since=None, naive_zone=ZONE)[0]) == {
            (f"g{n % 3}", f"p{n}") for n in range(7)}
    assert said == [f"{'deletedEntities' if deleted else 'groups'}, page 1: the pageToken is the next page's URL on "
                    "the server: followed as a link"]
