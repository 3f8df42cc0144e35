"""Hostile input, round 14: what other clients and proxies really send, at the HTTP door of the four services.

- A JSON object naming a key twice (`{"organiser_id": "A", "organiser_id": "B"}`) is read by Python's `json`,
  pydantic and FastAPI as its last value, by other parsers (a gateway, an audit, the client's own log) as the
  first or refused: the services stored B where another reader saw A. Now a 422 naming where
  (`items.737.organiser_id`) and the rule `duplicate_key`, on every operation that reads a body.
- A body that is not JSON was a 422 naming the parser's character offset as the field (`9: JSON decode error`);
  now the field is `body` and the message says what is wrong and where.
- A body sent without a Content-Type was a 422 on the body's shape (`body: Input should be a valid dictionary`),
  not on the header left out; now a 415 naming `content-type`.
- A NUL after the JSON (`{}` and a NUL) was a 415 calling the body UTF-16 or UTF-32; now exactly the bodies
  Python's `json` reads as UTF-16 or UTF-32 are refused as such, the others by the JSON rule.
- `Accept: application/json;q=0, */*` was read as admitting JSON (the wildcard's weight); a more specific range's
  weight now counts (RFC 9110 §12.5.1).
- A body declared longer than sent, or sent a byte a second, was waited for as long as the client kept the
  connection (no answer at all); now a 408 naming `body` (`body_deadline`) after `request_body_timeout_seconds`.
- A valid body with bytes that trip parsers spliced in or cut out, on every operation (hypothesis): held.

Each test failed on the code before its fix (said at each test).
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inprocess import ORGANISER, RunningService, auth, start_service
from test_openapi_fuzz import _assessment, _forecast

from styrkedja_contracts.identifiers import contains_personal_identity_number
from styrkedja_kit.app import _not_utf8
from styrkedja_kit.inputs import key_given_twice
from styrkedja_kit.negotiation import JSON_TYPES, accepted, admits, weight
from styrkedja_kit.problems import validation_errors
from styrkedja_reporting.exports.negotiate import ExportFormat, choose_format

_PARAM = re.compile(r"\{([^}]+)\}")
PLAUSIBLE = {"organiser_id": ORGANISER, "school_unit_code": "29990011", "round": "1", "unit_id": ORGANISER,
             "version": "1", "fmt": "csv"}


def fill(path: str) -> str:
    return _PARAM.sub(lambda m: PLAUSIBLE.get(m.group(1), "00000000-0000-4000-8000-000000000001"), path)


# ------------------------------------------------------------------ the rules, without a service

#: JSON values as `json` writes them (no NaN: a key twice is the matter here)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=25)


def _objects(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _objects(item, (*path, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _objects(item, (*path, n))


def _with_key_twice(value: Any, target: tuple[Any, ...], key: str) -> str:
    """`value` as JSON text, the object at `target` naming `key` a second time at its end."""
    if isinstance(value, dict):
        parts = [f"{json.dumps(k)}: " + (_with_key_twice(v, target[1:], key) if target and target[0] == k
                                         else json.dumps(v)) for k, v in value.items()]
        if not target:
            parts.append(f"{json.dumps(key)}: 0")
        return "{" + ", ".join(parts) + "}"
    assert isinstance(value, list) and target
    return "[" + ", ".join(_with_key_twice(v, target[1:], key) if n == target[0] else json.dumps(v)
                           for n, v in enumerate(value)) + "]"


@settings(max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(value=JSON_VALUES, data=st.data())
def test_a_key_twice_is_found_at_any_depth_and_named_where_it_stands(value: Any, data: st.DataObject) -> None:
    """The rule in general: every JSON value without a key twice passes; the same value with one object naming one
    of its keys again (any depth, inside lists and objects) is found, and named by the path to that object. New."""
    assert key_given_twice(json.dumps(value).encode()) is None
    objects = [(path, obj) for path, obj in _objects(value) if obj]
    if not objects:
        return
    path, obj = data.draw(st.sampled_from(objects))
    key = data.draw(st.sampled_from(sorted(obj)))
    twice = _with_key_twice(value, path, key).encode()
    found = key_given_twice(twice)
    assert found is not None, twice
    where, named = found
    # the first object in document order naming a key twice: the one made so (no other holds one)
    assert named == key[:40] and where == ".".join(str(p) for p in (*path, key[:40])), (twice, found)


def test_a_key_written_twice_in_other_escapes_is_the_same_key_and_a_body_that_is_not_json_is_left_to_its_parser():
    assert key_given_twice(b'{"a": 1, "\\u0061": 2}') == ("a", "a")
    assert key_given_twice(b'[{"a": 1}, {"a": 2}]') is None  # the same key in two objects is not twice
    for not_json in (b"{", b"\xff", b"[" * 100_000 + b"]" * 100_000, b'{"a": NaN', b""):
        assert key_given_twice(not_json) is None


@settings(max_examples=500, deadline=None, database=None, derandomize=True)
@given(body=st.binary(min_size=1, max_size=8))
def test_a_body_is_refused_as_utf16_or_utf32_exactly_when_pythons_json_would_read_it_so(body: bytes) -> None:
    """Failed on the old code for `{}` and then a NUL (any NUL among the first four bytes was called UTF-16 or
    UTF-32; Python's `json` reads three bytes as UTF-8, and the JSON rule refuses the NUL)."""
    if body.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return
    assert (_not_utf8(body[:4]) is not None) == (json.detect_encoding(body) != "utf-8"), body


def test_a_json_parse_error_names_the_body_and_says_what_and_where() -> None:
    """Failed on the old code: FastAPI's location of a JSON error is ("body", <offset>), and the offset was named as
    the field (`9: JSON decode error`)."""
    named = validation_errors([{"type": "json_invalid", "loc": ("body", 9), "msg": "JSON decode error",
                                "ctx": {"error": "Expecting property name enclosed in double quotes"}}])
    assert named == [{"field": "body", "rule": "json_invalid", "message": "not JSON (RFC 8259): Expecting property "
                      "name enclosed in double quotes at character 9"}]
    # only the leading part of a location says where the value was sent: a body's own key `path` is named so
    assert validation_errors([{"type": "extra_forbidden", "loc": ("body", "items", 0, "path"),
                               "msg": "Extra inputs are not permitted"}])[0]["field"] == "items.0.path"
    assert validation_errors([{"type": "missing", "loc": ("body",), "msg": "Field required"}])[0]["field"] == "body"


@pytest.mark.parametrize(("accept", "types", "admitted"), [
    ("application/json;q=0, application/problem+json;q=0, */*", JSON_TYPES, False),
    ("application/json;q=0, */*", ["application/json"], False),
    ("application/*;q=0, application/json", ["application/json"], True),
    ("*/*;q=0, application/json;q=0.1", ["application/json"], True),
    ("text/*;q=0, text/csv", ["text/csv"], True),
    ("text/csv;q=0, text/*", ["text/csv"], False),
    ("application/json;q=0, application/json;q=0.5", ["application/json"], True),
])
def test_the_most_specific_accept_range_decides(accept: str, types: list[str], admitted: bool) -> None:
    """RFC 9110 §12.5.1. Failed on the old code for the ranges refusing a type a wildcard admits."""
    assert admits(accept, types) is admitted


def test_a_table_refused_in_json_by_its_own_range_is_not_answered_in_json() -> None:
    """Failed on the old code: `*/*` took JSON first though `application/json;q=0` refused it."""
    assert weight(accepted("text/csv;q=0.3, text/*;q=0.9, */*"), "text/csv") == 0.3
    assert choose_format(None, "application/json;q=0, */*") is ExportFormat.csv
    assert choose_format(None, "application/json;q=0, text/csv;q=0, */*") is ExportFormat.xlsx
    assert choose_format(None, "*/*") is ExportFormat.json


# ------------------------------------------------------------------ the four services

@pytest.fixture
def client(running: tuple[str, RunningService], token_issuer: Any) -> Iterator[tuple[str, httpx.Client]]:
    name, service = running
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=120) as one:
        yield name, one


def body_operations(client: httpx.Client) -> list[tuple[str, str]]:
    document = client.get("/openapi.json").json()
    return [(method.upper(), fill(path)) for path, item in document["paths"].items()
            for method, operation in item.items() if isinstance(operation, dict) and "requestBody" in operation]


def _named(response: httpx.Response) -> tuple[int, str | None, str | None, str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text[:300]
    first = (response.json().get("errors") or [{}])[0]
    return response.status_code, first.get("field"), first.get("rule"), first.get("message", "")


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_key_given_twice_is_a_422_naming_where_on_every_operation_with_a_body(client) -> None:
    """Failed on the old code: every such body was read by its last value (a 422 for the unknown key `zz` at best,
    and a stored record where the key was one the body may hold, below)."""
    name, http = client
    operations = body_operations(http)
    assert operations, name
    wrong = []
    for method, url in operations:
        for body, field in [(b'{"zz": 1, "zz": 2}', "zz"), (b'{"a": {"b": [1, {"c": 1, "c": 1}]}}', "a.b.1.c"),
                            (b'{"19121212-1212": 1, "19121212-1212": 2}', None)]:
            got = http.request(method, url, content=body, headers={"content-type": "application/json"})
            status, named, rule, message = _named(got)
            if (status, rule) != (422, "duplicate_key") or (field and named != field):
                wrong.append(f"{method} {url} {body[:40]!r}: {status} {named} {rule}")
            if contains_personal_identity_number(got.text):
                wrong.append(f"{method} {url}: echoes the personal identity number {got.text[:200]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_batch_of_a_thousand_with_one_organiser_given_twice_stores_nothing_and_names_the_item(client) -> None:
    """The organiser the token may write first, another after it: read by its last value the item was the other
    organiser's (a 403 for the whole batch); the other way round the audit of a gateway reading the first saw the
    token's own organiser, the service stored the other. Failed on the old code: 201, the last value stored."""
    name, http = client
    if name not in ("assessment", "forecast"):
        pytest.skip("the batch writers")
    make, url = (_assessment, "/v1/assessments/batch") if name == "assessment" else (_forecast, "/v1/forecasts/batch")
    student = f"s14-{name}"
    items = [json.dumps(make(student_id=f"{student}-{n}")) for n in range(1000)]
    twice = list(items)
    twice[737] = '{"organiser_id": "0180", ' + items[737][1:]
    got = http.post(url, content=("{\"items\": [" + ", ".join(twice) + "]}").encode(),
                    headers={"content-type": "application/json"})
    assert _named(got)[:3] == (422, "items.737.organiser_id", "duplicate_key"), got.text[:400]
    stored = http.post(url, content=("{\"items\": [" + ", ".join(items) + "]}").encode(),
                       headers={"content-type": "application/json"})
    assert stored.status_code == 201, stored.text[:300]
    assert {item["status"] for item in stored.json()["items"]} == {"stored"}  # the refused batch stored none


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_body_that_is_not_json_is_a_422_naming_the_body_and_where(client) -> None:
    """Failed on the old code: the field was the parser's character offset (`9`), the message `JSON decode error`;
    and `{}` with a NUL after it was a 415 calling it UTF-16 or UTF-32."""
    name, http = client
    wrong = []
    for method, url in body_operations(http):
        for body, at in [(b'{"zz": 1,}', "at character 9"), (b"{'zz': 1}", "at character 1"), (b"{}\x00", "")]:
            got = http.request(method, url, content=body, headers={"content-type": "application/json"})
            status, field, rule, message = _named(got)
            if (status, field, rule) != (422, "body", "json_invalid") or at not in message:
                wrong.append(f"{method} {url} {body!r}: {status} {field} {rule} {message!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_body_without_a_content_type_is_a_415_naming_the_header(client) -> None:
    """Failed on the old code: a 422 `body: Input should be a valid dictionary or object to extract fields from`.
    A request without a body needs no media type (a retraction's body is optional: the route answers)."""
    name, http = client
    wrong = []
    for method, url in body_operations(http):
        for headers in ({}, {"content-type": ""}, {"content-type": "; charset=utf-8"}):
            got = http.request(method, url, content=b'{"zz": 1}', headers=headers)
            if _named(got)[:3] != (415, "content-type", "json_body"):
                wrong.append(f"{method} {url} {headers}: {got.status_code} {got.text[:200]}")
    assert not wrong, "\n".join(wrong)
    if name == "assessment":
        retracted = http.post("/v1/assessments/00000000-0000-4000-8000-000000000001/retract")
        assert _named(retracted)[:2] == (404, "assessment_id"), retracted.text


@pytest.mark.integration
@pytest.mark.postgres_only
def test_identity_named_among_the_content_codings_undoes_nothing(client) -> None:
    """`identity` is no coding (RFC 9110 §8.4.1): on a second line, or twice, it is as good as none. Failed on the
    old code: `identity, identity` (a proxy adding its own) was a 415. A real coding among them still is."""
    name, http = client
    method, url = body_operations(http)[0]
    for coding, status in [("identity, identity", 422), ("identity,", 422), ("identity, gzip", 415)]:
        got = http.request(method, url, content=b'{"zz": 1}', headers={"content-type": "application/json",
                                                                        "content-encoding": coding})
        assert got.status_code == status, (coding, got.text[:200])


@pytest.mark.integration
@pytest.mark.postgres_only
def test_an_accept_header_refusing_json_by_name_is_not_answered_in_json(client) -> None:
    """Failed on the old code: 200 in JSON to a client refusing both JSON types by name (`*/*` took them), and
    reporting's tables answered JSON to `application/json;q=0, */*`."""
    name, http = client
    got = http.get("/healthz", headers={"accept": "application/json;q=0, application/problem+json;q=0, */*"})
    assert _named(got)[:3] == (406, "Accept", "not_acceptable"), got.text[:200]
    if name == "reporting":
        table = http.get("/v1/results/assessments", params={"level": "organiser", "organiser_id": ORGANISER},
                         headers={"accept": "application/json;q=0, */*"})
        assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv"), table.text[:200]


# ------------------------------------------------------------------ a body that never comes whole

#: the deadline of the service below (`request_body_timeout_seconds`; 60 s by default)
BODY_SECONDS = 2.0


@pytest.fixture(scope="module")
def impatient(infrastructure: Any, token_issuer: Any) -> Iterator[tuple[RunningService, str]]:
    service = start_service("assessment", infrastructure, token_issuer, request_body_timeout_seconds=BODY_SECONDS)
    try:
        yield service, auth(token_issuer)["Authorization"]
    finally:
        service.stop()


def _raw(url: str, head: bytes, pieces: list[tuple[float, bytes]], wait: float = 20.0) -> tuple[bytes, float]:
    """Send `head`, then each piece after its pause; the answer (read until the server closes or `wait` passes)
    and the seconds from the head to its first byte."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=wait) as sock:
        started = time.monotonic()
        sock.sendall(head)
        for pause, piece in pieces:
            time.sleep(pause)
            try:
                sock.sendall(piece)
            except OSError:  # answered and closed already: what is left of the body is not waited for
                break
        answer, first = b"", 0.0
        try:
            while chunk := sock.recv(65536):
                first = first or time.monotonic() - started
                answer += chunk
                if b"\r\n\r\n" in answer and b'"}]}' in answer:  # the whole problem
                    break
        except TimeoutError:
            pass
    return answer, first


@pytest.mark.integration
@pytest.mark.postgres_only
@pytest.mark.parametrize("case", ["declared longer than sent", "nothing of a declared body", "a chunk, then none",
                                  "a byte a second"])
def test_a_body_not_whole_by_the_deadline_is_a_408_naming_it_never_a_hang(impatient, case: str) -> None:
    """Failed on the old code: no answer at all (the request waited for the rest of its body as long as the client
    kept the connection: uvicorn bounds neither a body's time nor its pace)."""
    service, token = impatient
    host = urlsplit(service.url).netloc.encode()
    start = (b"POST /v1/assessments HTTP/1.1\r\nHost: " + host + b"\r\nAuthorization: " + token.encode()
             + b"\r\nContent-Type: application/json\r\n")
    head, pieces = {
        "declared longer than sent": (start + b"Content-Length: 100\r\n\r\n{\"organiser_id\": ", []),
        "nothing of a declared body": (start + b"Content-Length: 100\r\n\r\n", []),
        "a chunk, then none": (start + b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n", []),
        "a byte a second": (start + b"Content-Length: 100\r\n\r\n{", [(1.0, b" ")] * 5),
    }[case]
    answer, first = _raw(service.url, head, pieces)
    assert answer.startswith(b"HTTP/1.1 408 "), (case, answer[:300])
    assert BODY_SECONDS * 0.8 <= first <= BODY_SECONDS + 8, (case, first)
    problem = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert problem["errors"][0]["field"] == "body" and problem["errors"][0]["rule"] == "body_deadline", problem
    assert b"connection: close" in answer.lower()


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_body_arriving_slowly_but_whole_within_the_deadline_is_read(impatient) -> None:
    service, token = impatient
    host = urlsplit(service.url).netloc.encode()
    body = json.dumps(_assessment(student_id="s14-slow")).encode()
    head = (b"POST /v1/assessments HTTP/1.1\r\nHost: " + host + b"\r\nAuthorization: " + token.encode()
            + b"\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
    third = len(body) // 3
    answer, _ = _raw(service.url, head, [(0.3, body[:third]), (0.3, body[third:2 * third]), (0.3, body[2 * third:])])
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:300]


# ------------------------------------------------------------------ any bytes in a body

#: what parsers trip on, spliced into a body at a drawn place
SPLICES = [b",", b'"', b"\\", b"\\u0000", b"\\ud800", b"\x00", b"\xff", b"\xef\xbb\xbf", b"NaN", b"1e400", b"-0",
           b"9" * 30, b"[" * 50, b"{}", b'"zz": 1, "zz": 2, ', b'"organiser_id": "19121212-1212", ', b"\r\n", b" "]


def _base_body(name: str) -> bytes:
    made = {"assessment": _assessment, "forecast": _forecast}.get(name)
    return json.dumps(made(student_id="s14-mutated") if made else
                      {"organiser_id": ORGANISER, "comment": "x", "items": [{"a": 1}]}).encode()


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_valid_body_with_any_bytes_spliced_in_or_cut_out_is_never_a_5xx(client) -> None:
    """The general rule over bodies: a valid body (of the service's writes) with bytes that trip parsers spliced in
    at any place, or a piece cut out, on every operation with a body: never a 5xx, a 4xx is problem+json naming a
    field and a rule, and a personal identity number is never repeated. Held on this branch (a probe kept as a
    test; it fails where a body makes the service answer 5xx)."""
    name, http = client
    operations = body_operations(http)
    base = _base_body(name)
    wrong: list[str] = []

    @settings(max_examples=25 * len(operations), deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(operation=st.sampled_from(operations), at=st.integers(0, len(base)), cut=st.integers(0, 12),
           splice=st.sampled_from(SPLICES) | st.binary(max_size=12))
    def send(operation: tuple[str, str], at: int, cut: int, splice: bytes) -> None:
        method, url = operation
        body = base[:at] + splice + base[at + cut:]
        got = http.request(method, url, content=body, headers={"content-type": "application/json"})
        what = f"{method} {url} {body[:80]!r}"
        if got.status_code >= 500:
            wrong.append(f"{what}: {got.status_code} {got.text[:200]}")
        elif got.status_code >= 400:
            status, field, rule, _ = _named(got)
            if not field or not rule:
                wrong.append(f"{what}: {status} names no field and rule: {got.text[:200]}")
        if contains_personal_identity_number(got.text):
            wrong.append(f"{what}: echoes a personal identity number: {got.text[:200]}")

    send()
    assert not wrong, "\n".join(wrong[:30])


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_directory_changes_unknown_key_is_named_as_it_is_whatever_its_name(client) -> None:
    """Failed on the old code: every part of a location spelling a place a value is sent (`body`, `query`, `path`,
    `header`) was dropped from the field's name, so the data's unknown key `query` was named `items.0.data.body`."""
    name, http = client
    if name != "reporting":
        pytest.skip("reporting's directory")
    unit = {"organiser_id": ORGANISER, "level": "school_unit", "unit_id": "29990011", "name": "Skola"}
    for key in ("query", "path", "zz"):
        got = http.post("/v1/directory/changes", json={"items": [
            {"type": "se.styrkedja.organisation.unit_upserted.v1", "data": {**unit, key: 1}}]})
        fields = {e["field"] for e in got.json().get("errors", [])}
        assert got.status_code == 422 and f"items.0.data.{key}" in fields, (key, got.text[:300])
