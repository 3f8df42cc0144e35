"""SS 12000 servers, second round: organisation trees that loop or lose their parents (and how long planning
them takes), numbers no parser reads alike, a token that runs out midway, ids that differ only in case or in
Unicode normalisation. The server is an `httpx.MockTransport` handler: no network, no pauses."""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ss12000_fixtures import HUV, ZONE, refused_as_read
from styrkedja_cli.ss12000.command import read_and_plan
from styrkedja_cli.ss12000.mapping import LOOP, NO_HUVUDMAN, plan
from styrkedja_cli.ss12000.models import Organisation
from styrkedja_cli.ss12000.source import HttpSource, SourceError


def unit(ident: str, parent: str | None, kind: str = "Skolenhet", code: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ident, "displayName": ident.upper(), "organisationType": kind}
    if kind == "Skolenhet":
        out["schoolUnitCode"] = code or f"2999{zlib.crc32(ident.encode()) % 10_000:04d}"
    if parent is not None:
        out["parentOrganisation"] = {"id": parent}
    return out


def plan_of(organisations: list[dict[str, Any]], organiser: tuple[str, str] | None = None) -> Any:
    return plan([Organisation.model_validate(o) for o in organisations], [], [], [], [], naive_zone=ZONE,
                now=datetime(2026, 9, 1, tzinfo=UTC), organiser=organiser)


def outcome(the_plan: Any) -> dict[str, str]:
    """Each organisation's fate: the unit type and parent it was sent with, or why it was refused or folded."""
    out = {c["source_id"]: f'{c["data"]["unit_type"]} under {c["data"].get("parent_id")}'
           for c in the_plan.changes.get("organisations", []) if c["source_id"]}
    out |= {r.id: r.reason for r in the_plan.refused}
    out |= {f.id: "folded" for f in the_plan.folded}
    return out


# -- trees that loop or lose their parents ------------------------------------------------------------------------

def test_a_loop_without_a_huvudman_is_refused_naming_the_rule_and_what_hangs_under_it_has_no_huvudman() -> None:
    """On the old code a loop's organisations were "no Huvudman above it" with --organiser left out, and with it
    placed under the organiser as if the loop were a tree (each with the loop's other members as areas)."""
    organisations = [HUV, unit("su", "huv"), unit("a", "b", "Verksamhetsområde"), unit("b", "a", "Verksamhetsområde"),
                     unit("su-in-loop", "a"), unit("self", "self"), unit("orphan", "nowhere")]
    said = outcome(plan_of(organisations))
    assert said == {"huv": "organiser under None", "su": "school_unit under 2999",
                    "a": LOOP.format(count=2), "b": LOOP.format(count=2), "self": LOOP.format(count=1),
                    "su-in-loop": NO_HUVUDMAN, "orphan": NO_HUVUDMAN}
    # a source without a Huvudman, named by --organiser: the loop is still no tree
    said = outcome(plan_of(organisations[1:], organiser=("2999", "Kommunen")))
    assert said["a"] == said["b"] == LOOP.format(count=2) and said["self"] == LOOP.format(count=1)
    assert said["su-in-loop"] == "school_unit under 2999" and said["orphan"] == "school_unit under 2999"


def test_a_huvudman_on_a_loop_is_the_top_of_its_tree_and_a_loop_above_it_is_folded() -> None:
    """A Huvudman ends the walk up: its own parent (a school of its own, a loop of company groups) is no level."""
    organisations = [HUV | {"parentOrganisation": {"id": "su"}}, unit("su", "huv"),
                     HUV | {"id": "huv2", "municipalityCode": "2998", "parentOrganisation": {"id": "koncern"}},
                     unit("koncern", "koncern2", "Övrigt"), unit("koncern2", "koncern", "Övrigt"),
                     unit("su2", "huv2", code="29980011")]
    assert outcome(plan_of(organisations)) == {
        "huv": "organiser under None", "su": "school_unit under 2999", "huv2": "organiser under None",
        "su2": "school_unit under 2998", "koncern": "folded", "koncern2": "folded"}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("shape", ["a loop", "a chain", "a chain under a loop"])
def test_a_tree_of_twenty_thousand_levels_or_a_loop_of_them_is_planned_in_linear_time(shape) -> None:
    """The walk up from every organisation was quadratic, and its loop check (a list) cubic: 1,000
    organisations on a loop took 19 s of CPU, 5,000 about 40 minutes — a server sending one hung the import."""
    n = 20_000
    if shape == "a loop":
        organisations = [HUV, *(unit(f"o{i}", f"o{(i + 1) % n}", code=f"3{i:07d}") for i in range(n))]
    else:
        top = "huv" if shape == "a chain" else "loop-a"
        organisations = [HUV, unit("loop-a", "loop-b", "Övrigt"), unit("loop-b", "loop-a", "Övrigt"),
                         *(unit(f"o{i}", top if i == 0 else f"o{i - 1}", "Övrigt") for i in range(n)),
                         unit("su", f"o{n - 1}", code="29990011")]
    started = time.process_time()
    the_plan = plan_of(organisations)
    spent = time.process_time() - started
    assert spent < 10, f"{spent:.1f} s of CPU for {n} organisations"
    said = outcome(the_plan)
    if shape == "a loop":
        assert set(said.values()) == {"organiser under None", LOOP.format(count=n)}
    elif shape == "a chain":  # the topmost level under the Huvudman is the area, the others folded
        assert said["su"] == "school_unit under o0" and said["o0"] == "area under 2999" and said["o1"] == "folded"
    else:
        assert said["su"] == said["o0"] == NO_HUVUDMAN


# -- numbers, tokens, ids ------------------------------------------------------------------------------------------

def serve(handle: Callable[[httpx.Request], httpx.Response]) -> HttpSource:
    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://ss12000.example")
    return HttpSource("http://ss12000.example", client=client, page_size=1, sleep=lambda _: None)


def read(source: HttpSource, entity: str = "organisations") -> list[Any]:
    return source.read(entity, None, lambda *_: None)


@pytest.mark.parametrize("number, rule", [
    ("9" * 5000, "not JSON by RFC 8259: an integer beyond 64 bits (parsers read it differently)"),  # was "not JSON"
    (str(2 ** 63), "not JSON by RFC 8259: an integer beyond 64 bits (parsers read it differently)"),  # was read
    (str(-(2 ** 63)), "not JSON by RFC 8259: an integer beyond 64 bits (parsers read it differently)"),
    ("1e400", "not JSON by RFC 8259: a number out of a double's range"),
    ("-1e400", "not JSON by RFC 8259: a number out of a double's range"),
])
def test_a_number_no_two_parsers_read_alike_refuses_the_page_naming_the_rule(number, rule) -> None:
    body = ('{"data": [{"id": "huv", "displayName": "K", "organisationType": "Huvudman", "vendorCount": '
            + number + "}]}").encode()
    with pytest.raises(SourceError) as raised:
        read(serve(lambda request: httpx.Response(200, content=body, headers={"content-type": "application/json"})))
    assert str(raised.value) == f"organisations, page 1: {rule}"


def test_a_64_bit_integer_is_read_where_the_importer_does_not_keep_it() -> None:
    body = {"data": [HUV | {"vendorId": 2 ** 63 - 1, "vendorOffset": 1 - 2 ** 63, "meta": {"created": "2026-08-01"
                                                                                            "T08:00:00Z"}}]}
    assert [o.id for o in read(serve(lambda request: httpx.Response(200, json=body)))] == ["huv"]


def test_a_token_that_runs_out_midway_stops_the_import_saying_so_and_a_refused_one_saying_which() -> None:
    pages = [httpx.Response(200, json={"data": [HUV], "pageToken": "2"}),
             httpx.Response(401, json={"code": "invalid_token", "message": "expired"})]
    with pytest.raises(SourceError) as raised:
        read(serve(lambda request: pages.pop(0)))
    assert str(raised.value) == ("organisations, page 2: HTTP 401 (invalid_token: expired); the server no longer "
                                 "takes the token (expired during the run?): nothing was sent, import again with a "
                                 "new token")
    given = serve(lambda request: httpx.Response(401))
    given.client.headers["Authorization"] = "Bearer t"  # a token given (one not given is said so: round 24)
    with pytest.raises(SourceError) as raised:
        read(given)
    assert str(raised.value) == ("organisations, page 1: HTTP 401; the server does not take the token (--token, "
                                 "STYRKEDJA_SS12000_TOKEN)")


@pytest.mark.parametrize("ident", ["grupp-\u00e5", "grupp-a\u030a", "g\uff11", "g\u200b1", "g 1"])
def test_an_id_that_unicode_could_spell_two_ways_is_refused_naming_the_field_and_rule(ident) -> None:
    """SS 12000 ids are UUIDs; the importer takes any id of ASCII letters, digits and `._:-`: "grupp-å" typed as one
    character or two would be two groups, a full-width or zero-width digit an id that looks like another."""
    pages = {"organisations": [HUV, unit("su", "huv", code="29990011")],
             "groups": [{"id": ident, "displayName": "7A", "organisation": {"id": "su"}}]}
    source = serve(lambda request: httpx.Response(200, json={"data": pages.get(request.url.path.strip("/"), [])}))
    with pytest.raises(SourceError) as raised:
        read_and_plan(source, since=None, naive_zone=ZONE)
    assert str(raised.value) == ("groups, page 1, item 0: id: must be letters, digits and . _ : - only (SS 12000's "
                                 "ids are UUIDs; other ids are taken if made of these)")


def test_ids_differing_only_in_case_are_one_entity_when_uuids_and_two_otherwise() -> None:
    """The rule (docs/import.md): a UUID's hex digits are case-insensitive (RFC 9562), any other id is exact."""
    upper = "7A9D3B2C-1E4F-4A6B-8C0D-3E5F7A9B1C2D"
    groups = [{"id": upper, "displayName": "7A", "organisation": {"id": "su"}},
              {"id": upper.lower(), "displayName": "7A", "organisation": {"id": "su"}},
              {"id": "G1", "displayName": "7B", "organisation": {"id": "su"}},
              {"id": "g1", "displayName": "7C", "organisation": {"id": "su"}}]
    pages = {"organisations": [HUV, unit("su", "huv", code="29990011")], "groups": groups}
    source = serve(lambda request: httpx.Response(200, json={"data": pages.get(request.url.path.strip("/"), [])}))
    the_plan, _ = read_and_plan(source, since=None, naive_zone=ZONE)
    assert [c["data"]["unit_id"] for c in the_plan.changes["groups"]] == [upper.lower(), "G1", "g1"]


@pytest.mark.parametrize("ident", ["..", "."])
def test_an_id_of_dots_alone_is_refused_before_it_becomes_a_path(ident) -> None:
    """An incremental run asks for each group a changed activity names (`/groups/{id}`): on the old code an
    activity naming group ".." had the importer ask for the API's root, and "." for the whole list of groups."""
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        pages = {"/organisations": [HUV, unit("su", "huv", code="29990011")],
                 "/activities": [{"id": "a1", "groups": [{"id": ident}], "teachers": []}]}
        return httpx.Response(200, json={"data": pages.get(request.url.path, [])})

    the_plan, _ = read_and_plan(serve(handle), since=datetime(2026, 9, 1, tzinfo=UTC), naive_zone=ZONE)
    # the entry refused on its own (session 34: it refused the page), never asked for
    assert [(r.entity, r.id, r.reason) for r in the_plan.refused] == [(
        "activities", "a1", "groups[0].id: Value error, must not be only dots: `.` and `..` are path segments "
                            "(/groups/.. is the API's root)")]
    assert all(path.count("/") == 1 for path in asked), asked


@pytest.mark.parametrize("body, kind, said", [
    (b'{"data": [\n  {"id": "huv",}]}', "application/json",
     "not JSON (content-type application/json) at line 2, column 16: Expecting property name enclosed in double "
     "quotes"),
    (b"<html>\r\n<body>Service Unavailable</body></html>", "text/html",
     "not JSON (content-type text/html) at line 1, column 1: Expecting value; a page of HTML or XML (a proxy's, a "
     "login's or a portal's: is --url the API's base?)"),  # the hint: round 25
    (b'\xef\xbb\xbf{"data": [{"displayName": "' + "\u00c5sby".encode("latin-1") + b'"}]}',
     "application/json; charset=iso-8859-1",
     "not JSON (content-type application/json; charset=iso-8859-1): not UTF-8 (byte C5 at line 1, column 28)"),
])
def test_a_page_that_is_not_json_is_refused_at_its_line_and_column(body, kind, said) -> None:
    """Said "not JSON (content-type …)" before, without where or why."""
    with pytest.raises(SourceError) as raised:
        read(serve(lambda request: httpx.Response(200, content=body, headers={"content-type": kind})))
    assert str(raised.value) == f"organisations, page 1: {said}"


def _peak_while(work: Callable[[], Any]) -> tuple[Any, int]:
    import tracemalloc

    tracemalloc.start()
    try:
        try:
            outcome = work()
        except SourceError as error:
            outcome = error
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcome, peak


def test_a_page_of_millions_of_empty_objects_is_refused_at_its_first_without_building_them() -> None:
    """A page was parsed whole before its first item was looked at: 32 MiB of `{},` became 11 million dicts,
    770 MB (a page may be 256 MiB). Now each item is validated as the page is parsed. Failed on the old code:
    peak 212 MB for this 8 MiB page (0.23 MB while a page over 4 MiB was spooled to a file; 8.8 MB since round 36,
    which holds every page in memory: the page's own bytes, no object built of them)."""
    body = b'{"data": [' + b"{}," * (8 * 1024 * 1024 // 3) + b"{}]}"
    raised, peak = _peak_while(lambda: read(serve(lambda request: httpx.Response(200, content=body))))
    assert str(raised) == "organisations, page 1, item 0: id: Field required"
    assert peak < len(body) * 5 // 4, f"peak {peak:,} bytes for a page of {len(body):,}"


def test_a_large_page_is_held_as_its_bytes_and_the_items_kept_not_as_every_object_of_it() -> None:
    """What a server adds to each item (its own extensions) is not kept, and no longer held all at once."""
    items = [HUV | {"id": f"org-{n}", "extension": {"notes": "x" * 8_000, "n": n}} for n in range(2_000)]
    body = httpx.Response(200, json={"data": items}).content
    kept, peak = _peak_while(lambda: read(serve(lambda request: httpx.Response(200, content=body))))
    assert [o.id for o in kept] == [f"org-{n}" for n in range(2_000)]
    # measured: 1.8 MB beyond the page's bytes for a page of 16 MB (old code: 33.6 MB); 0.5 MB beyond them since round
    # 36, which holds every page's bytes in memory (a page over 4 MiB was spooled to a file before)
    assert peak - len(body) < len(body) // 4, f"peak {peak:,} bytes for a page of {len(body):,}"


def test_a_large_error_body_is_not_parsed_for_its_message() -> None:
    """An error answer's body was parsed whole for its code and message, whatever its size."""
    from styrkedja_cli.ss12000.source import SAID_BYTES

    small = b'{"code": "overload", "message": "try later"}'
    large = b'{"code": "overload", "message": "try later", "x": [' + b"{}," * SAID_BYTES + b"{}]}"
    for body, said in ((small, " (overload: try later)"), (large, " (a body without a content-type, no SS 12000 error)")):
        raised, peak = _peak_while(lambda body=body: read(serve(lambda request: httpx.Response(500, content=body))))
        assert str(raised) == f"organisations, page 1: HTTP 500{said}"
        assert peak < 1_000_000, peak


@pytest.mark.parametrize("flag, value, rule", [
    ("--url", "http://", "--url: an http:// or https:// URL with a host"),
    ("--url", "ftp://ss12000.example", "--url: an http:// or https:// URL with a host"),
    ("--url", "ss12000.example/v2", "--url: an http:// or https:// URL with a host"),
    ("--url", "http://exa mple.com", "--url: an http:// or https:// URL with a host"),
    ("--url", "http://[::1", "--url: not a URL (Invalid port: ':1')"),
    ("--url", "http://ss12000.example:99999", "--url: port 99999 is not 1 to 65535"),
    ("--reporting-url", "127.0.0.1:8104", "--reporting-url: an http:// or https:// URL with a host"),
])
def test_a_url_that_names_no_server_is_a_usage_error(flag, value, rule) -> None:
    """Asked again six times over 31 s as a busy server ("http://", a port of 99999, a blank in the name), or a
    traceback ("http://[::1"), before."""
    from typer.testing import CliRunner

    from styrkedja_cli.main import app

    args = ["import", "ss12000", flag, value, *(["--url", "http://ss12000.example"] if flag != "--url" else [])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and rule in " ".join(result.output.replace("│", " ").split()), result.output


def test_a_server_that_does_not_answer_is_said_so_not_busy() -> None:
    said: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no one there", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse), base_url="http://ss12000.example")
    source = HttpSource("http://ss12000.example", client=client, attempts=2, sleep=lambda _: None,
                        on_retry=lambda what, seconds: said.append(f"{what}; {seconds:g}"))
    with pytest.raises(SourceError, match=r"organisations, page 1: ConnectError \(2 attempts\)"):
        read(source)
    assert said == ["organisations, page 1: ConnectError; 1"]


def test_a_server_inventing_long_page_tokens_is_stopped_at_the_first_too_long() -> None:
    """Every token was kept whole until the entity was read: new tokens of a megabyte each filled memory long
    before --max-pages (100,000 pages: 100 GB)."""
    from styrkedja_cli.ss12000.source import MAX_TOKEN_CHARS

    asked: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(len(str(request.url)))
        n = len(asked)
        token = f"{n:x}".rjust(MAX_TOKEN_CHARS if n < 3 else MAX_TOKEN_CHARS + 1, "t")  # new each time
        return httpx.Response(200, json={"data": [], "pageToken": token})

    with pytest.raises(SourceError) as raised:
        read(serve(handle))
    assert str(raised.value) == f"organisations, page 3: a pageToken longer than {MAX_TOKEN_CHARS} characters"
    assert len(asked) == 3  # tokens of the longest length were taken and sent back


@pytest.mark.parametrize("meta", [{}, {"created": "", "modified": " "}, {"modified": None}, None])
def test_meta_missing_empty_or_blank_is_no_time_and_the_item_is_read(meta) -> None:
    """A blank `meta.modified` refused the whole page (it is no RFC 3339 timestamp); a blank optional date was
    absent already. Missing or empty meta: the import's own time, as before."""
    group = {"id": "g1", "displayName": "7A", "organisation": {"id": "su"}, "startDate": "2026-08-17"}
    if meta is not None:
        group["meta"] = meta
    pages = {"/organisations": [HUV, unit("su", "huv", code="29990011")], "/groups": [group]}
    source = serve(lambda request: httpx.Response(200, json={"data": pages.get(request.url.path, [])}))
    the_plan, _ = read_and_plan(source, since=None, naive_zone=ZONE)
    assert [c["data"]["unit_id"] for c in the_plan.changes["groups"]] == ["g1"] and the_plan.refused == []


def test_a_meta_time_that_is_no_time_still_refuses_its_item() -> None:
    group = {"id": "g1", "displayName": "7A", "organisation": {"id": "su"}, "meta": {"modified": "igår"}}
    source = serve(lambda request: httpx.Response(200, json={"data": [group]}))
    assert re.match(r"groups g1: meta.modified: Value error, not an RFC 3339", refused_as_read(source, "groups"))
