"""Hostile inputs, round 18: names in one form and on one line at every door, what LIKA says of its comments, the
dead-letter topics' names, and a fresh sweep of the HTTP door and the tokens.

Found and fixed (each test failed on the old code, as said at it):
- Names (a unit's, area's, group's or duty's name, an owner, a tag, a plan's title) took tab, newline and carriage
  return (`check_text` lets free text keep its line breaks), and were kept with their surrounding spaces: "Skola "
  and "Skola" were two units (two rows of every report, two tags of one plan), "Skola\\tNorr" split a TSV row and
  "Skola\\n" a log line. The rule, one for every door (the contracts' `Name`: HTTP bodies and query parameters,
  events from the topics, the SS 12000 import, LIKA's owners and tags): surrounding spaces (every Unicode space
  separator) are dropped as NFC is applied (`name_form`) — dropped, not refused, as a spreadsheet cell or a
  hand-typed SS 12000 field leaves them and no reader tells them apart —; a tab, newline or carriage return
  anywhere in a name is refused as `no_control_characters` (a name is one line). The decode's fast path takes only
  a name already in its form (its pattern), so the live consumer and the rebuild keep the same name.
- LIKA's draft door said of a rating's comment "At most 2,000 characters are kept" and took up to 10,000 in its
  OpenAPI document, while a comment over 2,000 is refused, never cut: the documents (both doors) and docs/lika.md
  now say 2,000 and refused, and the draft door's schema says `maxLength: 2000`.
- A consumer group whose name holds a personal identity number (`reporting-19121212-1212`, `elev_19121212_1212`:
  both fit `[A-Za-z0-9._-]`) named its dead-letter topic after it, keeping the number on the broker (every topic
  listing, ACL, metric and log line naming it) for as long as the topic lives: now a ValueError naming the rule and
  repeating no number (`dead_letter_topic`: the live consumer, the rebuild, `ensure_topics` and the ops CLI's
  `topics --dead-letter-group`, packages/kit/tests/test_cli_arguments.py).

- The HTTP door (the kit's `RequestGuard`, every operation of every service): a body on a GET, HEAD or DELETE was read
  by no one and answered as if the request had none (a client's search filters sent as a body got every row, as an
  unknown query parameter did before round 16): now a 400 naming `body` and `no_body`. HTTP/1.0 with
  `Transfer-Encoding: chunked` was unframed as chunks, where RFC 9112 §6.1 has its framing faulty (an HTTP/1.0 proxy
  in front reads the body to the connection's end): a 400 naming `transfer-encoding` (`http_syntax`), the
  connection closed. `Content-Type: application/json; charset=utf-8; charset=latin-1` was read by its first
  charset, a proxy reading the last saw Latin-1: a 415 `utf8_charset`, as any charset but UTF-8. A merge patch
  (`application/merge-patch+json`) on a PUT or POST was taken as the whole document (a calendar's or the alert
  thresholds' other fields reset to their defaults): a 415 `json_body`.
- Reporting's directory door named a rule of a whole item (a model validator's: `year` on a school unit)
  `items.0.data.body`, a field no item has: now `items.0.data`.

Tried and held (swept here on every operation of every service, from its OpenAPI document, or probed):
`Upgrade: websocket` and `h2c` (never switched, answered as HTTP/1.1); `Transfer-Encoding` in capitals, after a
tab, twice, beside a Content-Length, `identity`; a chunk extension and a trailer holding a personal identity number
(never repeated); `Content-Length: 2, 2` and twice; header values in UTF-8 with a bidi override (Accept 406,
Content-Type 415, Authorization 401, others ignored); a Content-Type list, `text/json`, form and multipart types,
one given twice (415 / 400 `single_header`); query arrays in brackets (`unknown_parameter`); JSON numbers `7.0`,
`7e0` and `"7"` for integers (strict: `int_type`). Tokens (the kit's, read on reporting): the scheme in any case,
two tokens or a tab after the scheme, `jku`, `x5u`, an embedded `jwk`, a path as `kid`, an unknown critical
extension (`crit`), `exp` as text or a non-integer number, `aud` a list, `nbf` or `iat` ahead — each judged as
RFC 7515/7519 have it. Events: headers that lie (`content-type`, `ce_*` binary-mode headers beside a structured
value: the value decides, round 15), a key that is not the body's organiser (`key_mismatch`, round 3), the same id
with another body (`conflicting_duplicate`; the same event with a name spaced otherwise is the same event now: the
decode forms it before `same_content` compares) — held by the earlier rounds' tests, not repeated here.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from inprocess import ORGANISER, auth, broad_token
from test_hostile_http import fill, raw_request

from styrkedja_cli.ss12000.mapping import plan
from styrkedja_cli.ss12000.models import Organisation
from styrkedja_contracts import ContractError, dead_letter_topic, decode_event
from styrkedja_contracts.envelope import decode_plain
from styrkedja_contracts.examples import example_bytes
from styrkedja_contracts.identifiers import contains_personal_identity_number
from styrkedja_kit.consumer import ConsumerLoop
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.persistence import metadata
from styrkedja_reporting.rebuild.bulk import APPLIED, OFFSETS
from styrkedja_reporting.settings import ReportingSettings

UNIT = "se.styrkedja.organisation.unit_upserted.v1"
#: one line, not these: each a 422 (or a dead letter) naming the name and `no_control_characters`
LINE_BREAKING = ["Skola\tNorr", "Skola\nNorr", "Skola\r\nNorr", "Skola\n", "\tSkola"]
#: one name in its spellings: the same unit, the same tag
SPACED = [" Skola 18", "Skola 18 ", "\u00a0Skola 18\u3000", "\u2003Skola 18\u202f"]


def _client(service: Any, token_issuer: Any) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=300)


def _rules(answer: httpx.Response) -> list[tuple[str, str]]:
    return [(e["field"], e["rule"]) for e in answer.json()["errors"]]


# -- names: one form, one line ------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_directory_name_is_one_name_however_it_is_spaced_and_one_line(running, token_issuer):
    """The directory's door (reporting's `POST /v1/directory/changes`, which the SS 12000 import and platforms use).
    Failed on the old code: each spacing was a change (`changed`: a new name published), each line break taken."""
    name, service = running
    if name != "reporting":
        pytest.skip("the directory's door")
    base = json.loads(example_bytes(UNIT))["data"]
    base = {**base, "organiser_id": ORGANISER, "unit_id": "grp-round-18"}

    def send(text: str) -> httpx.Response:
        return client.post("/v1/directory/changes", json={"items": [{"type": UNIT, "data": {**base, "name": text}}]})

    with _client(service, token_issuer) as client:
        first = send("Skola 18")
        assert first.status_code == 200 and first.json()["created"] == 1, first.text
        for text in SPACED:
            again = send(text)
            assert again.status_code == 200 and again.json()["unchanged"] == 1, (text, again.text)
        for text in LINE_BREAKING:
            refused = send(text)
            assert refused.status_code == 422, (text, refused.text)
            assert _rules(refused) == [("items.0.data.name", "no_control_characters")], (text, refused.text)
        # a rule across the item's fields names the field to mend by a rule of its own (round 32: `items.0.data`,
        # `value_error`). Failed on the old code: `items.0.data.body`, a field no item has
        school = client.post("/v1/directory/changes", json={"items": [{"type": UNIT, "data": {
            **base, "unit_type": "school_unit", "unit_id": "29991818", "school_unit_code": "29991818"}}]})
        assert school.status_code == 422 and _rules(school) == [("items.0.data.year", "year_only_for_group")], (
            school.text)


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_plans_title_is_one_line(running, token_issuer):
    """Assessment's plans (`title`, a `Name`). Failed on the old code: every title here was published (201)."""
    name, service = running
    if name != "assessment":
        pytest.skip("the assessment service's plans")
    plan_in = {"organiser_id": ORGANISER, "school_unit_code": "29990011", "group_id": "7A", "subject_code": "GRGRMAT01",
               "school_year": "2026/27", "term": "HT", "title": "Bråk", "published_on": "2026-09-01"}
    with _client(service, token_issuer) as client:
        for text in LINE_BREAKING:
            refused = client.post("/v1/plans", json={**plan_in, "title": text})
            assert refused.status_code == 422 and _rules(refused) == [("title", "no_control_characters")], \
                (text, refused.text)
        assert client.post("/v1/plans", json={**plan_in, "title": " Bråk "}).status_code == 201


def _unit_event(name: str) -> bytes:
    doc = json.loads(example_bytes(UNIT))
    doc["data"]["name"] = name
    return json.dumps(doc, ensure_ascii=False).encode()


@pytest.mark.parametrize("text", SPACED)
def test_a_units_event_keeps_the_name_in_its_one_form_by_the_live_decode_and_the_rebuilds(text: str) -> None:
    """An event produced straight to the topic by others: the live consumer's decode and the rebuild's (the same
    `decode_event`) keep "Skola 18"; the fast path (`decode_plain`, the rebuild's direct lines) leaves it to them.
    Failed on the old code: the name was kept as sent, and the fast path took " Skola 18"."""
    raw = _unit_event(text)
    assert decode_event(raw).data.name == "Skola 18"  # type: ignore[attr-defined]
    assert decode_plain(raw) is None


@pytest.mark.parametrize("text", LINE_BREAKING)
def test_a_units_event_with_a_line_break_in_its_name_is_refused_with_the_reason(text: str) -> None:
    """Dead-lettered (`invalid_data`, naming `name` and the rule). Failed on the old code: applied."""
    with pytest.raises(ContractError) as caught:
        decode_event(_unit_event(text))
    assert caught.value.reason == "invalid_data" and "name: a name is one line" in str(caught.value)


def test_the_ss12000_import_keeps_a_display_name_in_its_one_form_and_refuses_one_of_two_lines():
    """The import maps displayName to the directory's name and judges it by the contract: a unit named " Skola 18 "
    is sent as "Skola 18"; one named over two lines is refused on its own (the rest is sent). Failed on the old code:
    both were sent as written."""
    huvudman = {"id": "huv", "displayName": "Kommunen ", "organisationType": "Huvudman", "municipalityCode": "2999"}
    names = [" Skola 18 ", *LINE_BREAKING]
    units = [{"id": f"su{n}", "displayName": text, "organisationType": "Skolenhet", "schoolUnitCode": f"299918{n:02d}",
              "parentOrganisation": {"id": "huv"}} for n, text in enumerate(names)]
    made = plan([Organisation.model_validate(o) for o in [huvudman, *units]], [], [], [], [],
                naive_zone=ZoneInfo("Europe/Stockholm"), now=datetime(2026, 9, 1, tzinfo=UTC), organiser=None)
    sent = {c["source_id"]: c for c in made.changes.get("organisations", [])}
    assert set(sent) == {"huv", "su0"}, sent
    refused = {r.id: r.reason for r in made.refused}
    assert set(refused) == {f"su{n}" for n in range(1, len(names))}, refused
    assert all(reason.startswith("displayName: a name is one line") for reason in refused.values()), refused
    assert sent["su0"]["data"]["name"] == "Skola 18" and sent["huv"]["data"]["name"] == "Kommunen", sent


# -- LIKA's comments: at most 2,000 characters, refused beyond, as the documents say ------------------------------


@pytest.mark.integration
@pytest.mark.postgres_only
def test_lika_says_what_it_does_with_a_comment_over_2000_characters(running, token_issuer):
    """Failed on the old code: the draft door's document said "At most 2,000 characters are kept" and `maxLength`
    10,000, while such a comment was refused (422)."""
    name, service = running
    if name != "lika":
        pytest.skip("LIKA's doors")
    with _client(service, token_issuer) as client:
        document = client.get("/openapi.json").json()
        comments = {schema_name: schema["properties"]["comment"]
                    for schema_name, schema in document["components"]["schemas"].items()
                    if "comment" in schema.get("properties", {}) and "In" in schema_name}
        assert set(comments) >= {"RatingSaveIn", "RatingIn"}, comments
        for schema_name, comment in comments.items():
            text = json.dumps(comment)
            assert "2000" in text and "refused" in text and "kept" not in text, (schema_name, comment)
            string = next(s for s in comment.get("anyOf", [comment]) if s.get("type") == "string")
            assert string["maxLength"] == 2000, (schema_name, comment)
        draft = client.post("/v1/self-assessments", json={
            "organiser_id": ORGANISER, "school_unit_code": "29990011", "school_form": "grundskola",
            "respondent_role": "rektor", "catalogue_version": "2026.2"})
        assert draft.status_code == 201, draft.text
        path = f"/v1/self-assessments/{draft.json()['self_assessment_id']}/ratings"
        for length, status in ((2000, 200), (2001, 422), (10_001, 422)):
            answer = client.patch(path, json={"ratings": [
                {"indicator_id": "GR-LED-01", "rating": "STARTED", "comment": "x" * length}]})
            assert answer.status_code == status, (length, answer.text[:300])
            if status == 422:
                assert [f for f, _ in _rules(answer)] == ["ratings.0.comment"], answer.text[:300]
        kept = client.get(f"/v1/self-assessments/{draft.json()['self_assessment_id']}").json()
        assert [len(r["comment"]) for r in kept["ratings"]] == [2000]


# -- dead-letter topics: never named after a personal identity number ----------------------------------------------


@pytest.mark.parametrize("group", ["reporting-19121212-1212", "elev_19121212_1212", "reporting.121212-1212"])
def test_no_consumer_reads_under_a_group_whose_dead_letter_topic_would_hold_a_personal_identity_number(group: str):
    """The live consumer (and the rebuild, which makes the same `ConsumerLoop`) is refused at construction, before any
    broker is asked, and the reason repeats no number. Failed on the old code: the loop was made, its dead-letter
    topic `styrkedja.dlq.reporting-19121212-1212`."""
    settings = ReportingSettings(consumer_group=group, database_url="postgresql+asyncpg://u@127.0.0.1:1/none")
    with pytest.raises(ValueError, match="no_personal_identity_number") as caught:
        ConsumerLoop(settings, Database(settings.database_url), group_id=settings.consumer_group, topics=[],
                     handler=handler_registry(live_alerts=False), applied_table=metadata.tables[APPLIED],
                     offsets_table=metadata.tables[OFFSETS])
    assert "1212" not in str(caught.value)
    with pytest.raises(ValueError):
        dead_letter_topic(group)


# -- the HTTP door: every operation of every service -----------------------------------------------------------------


def _operations(client: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    document = client.get("/openapi.json").json()
    return [(method.upper(), path, operation) for path, item in document["paths"].items()
            if path not in ("/readyz", "/metrics")
            for method, operation in item.items() if method in ("get", "post", "put", "patch", "delete")]


def _raw(url: str, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    answer = raw_request(url, head + b"\r\nConnection: close\r\n\r\n" + body)
    found = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return (int(found.group(1)) if found else 0), answer


def _problem(answer: bytes) -> list[tuple[str, str]]:
    body = answer.partition(b"\r\n\r\n")[2]
    try:
        return [(e["field"], e["rule"]) for e in json.loads(body)["errors"]]
    except (ValueError, KeyError, TypeError):
        return []


@pytest.mark.integration
@pytest.mark.postgres_only
def test_bodies_where_none_is_read_framing_and_charsets_are_refused_naming_the_rule(running, token_issuer):
    """Found and fixed (the kit's `RequestGuard`; each failed on the old code, as said):
    - a body on a GET or DELETE (a client's search filters, as some APIs take them on GET) was read by no one and the
      answer covered everything (200, as an unknown query parameter's did before round 16): now a 400 naming `body`
      and `no_body`; `Content-Length: 0` stays fine;
    - HTTP/1.0 with `Transfer-Encoding: chunked` was unframed as chunks, where RFC 9112 §6.1 has the framing faulty
      (an HTTP/1.0 proxy in front reads the body to the connection's end): now a 400 naming `transfer-encoding`
      (`http_syntax`), the connection closed;
    - `Content-Type: application/json; charset=utf-8; charset=latin-1` was read by its first charset (a proxy taking
      the last saw Latin-1): now a 415 naming `content-type` (`utf8_charset`), as any charset but UTF-8 was;
    - `application/merge-patch+json` (RFC 7386) on a PUT or POST was read as the whole document: forecast's
      `PUT /v1/calendars/{organiser_id}` and reporting's alert thresholds took the patch `{}` and answered 200, every
      field at its default. Now a 415 `json_body`; and since left26 on a PATCH too (lika's two PATCHes take a
      document naming the fields to set: a JSON Patch was a 422 about `body`'s shape), the 415 naming the patch's
      media type and `application/json`, a PATCH's with `Accept-Patch: application/json` (RFC 5789)."""
    name, service = running
    token = auth(token_issuer)["Authorization"].encode()
    wrong: list[str] = []
    with _client(service, token_issuer) as client:
        operations = _operations(client)
        for method, path, _operation in operations:
            url = fill(path)
            if method in ("GET", "DELETE"):
                answer = client.request(method, url, content=b'{"school_year": "2026/27"}',
                                        headers={"content-type": "application/json"})
                if answer.status_code != 400 or _rules(answer) != [("body", "no_body")]:
                    wrong.append(f"{method} {path} with a body: {answer.status_code} {answer.text[:160]!r}")
                empty = client.request(method, url, headers={"content-length": "0"})
                if empty.status_code >= 500 or (empty.status_code == 400 and "no_body" in empty.text):
                    wrong.append(f"{method} {path} with Content-Length 0: {empty.status_code} {empty.text[:160]!r}")
            else:
                answer = client.request(method, url, content=b"{}", headers={
                    "content-type": "application/json; charset=utf-8; charset=latin-1"})
                if answer.status_code != 415 or _rules(answer) != [("content-type", "utf8_charset")]:
                    wrong.append(f"{method} {path} two charsets: {answer.status_code} {answer.text[:160]!r}")
                same = client.request(method, url, content=b"{}", headers={
                    "content-type": "application/json; charset=utf-8; charset=UTF-8"})
                if same.status_code in (415, 500):
                    wrong.append(f"{method} {path} one charset twice: {same.status_code} {same.text[:160]!r}")
                for kind, body in (("application/merge-patch+json", b"{}"),
                                   ("application/json-patch+json", b'[{"op": "replace", "path": "/x", "value": 1}]')):
                    patch = client.request(method, url, content=body, headers={"content-type": kind})
                    refused = (patch.status_code == 415 and _rules(patch) == [("content-type", "json_body")]
                               and kind in patch.text and "application/json" in patch.json()["detail"]
                               and patch.headers.get("accept-patch") == ("application/json" if method == "PATCH"
                                                                         else None))
                    if not refused:
                        wrong.append(f"{method} {path} {kind}: {patch.status_code} {patch.headers.get('accept-patch')}"
                                     f" {patch.text[:160]!r}")
            status, answer = _raw(service.url, method.encode() + b" " + url.encode() + b" HTTP/1.0\r\nHost: h\r\n"
                                  b"Authorization: " + token + b"\r\nContent-Type: application/json\r\n"
                                  b"Transfer-Encoding: chunked", b"2\r\n{}\r\n0\r\n\r\n")
            if status != 400 or _problem(answer) != [("transfer-encoding", "http_syntax")]:
                wrong.append(f"{method} {path} HTTP/1.0 chunked: {answer[:200]!r}")
    assert len(operations) >= 5, operations
    assert not wrong, f"{name}: {len(wrong)} wrong:\n" + "\n".join(wrong[:30])


#: a personal identity number in a chunk extension and a trailer: read by no one, repeated nowhere
_CHUNKED_WITH_A_NUMBER = b"2;note=19121212-1212\r\n{}\r\n0\r\nX-Note: 19121212-1212\r\n\r\n"


@pytest.mark.integration
@pytest.mark.postgres_only
def test_upgrades_odd_transfer_codings_header_bytes_and_bracketed_arrays_are_held(running, token_issuer):
    """Tried and held, on every operation: `Upgrade: websocket` or `h2c` (never switched: no 101, the request
    answered as HTTP/1.1), `Transfer-Encoding` in capitals, after a tab, twice or beside a Content-Length (the
    latter two a 400), a chunk extension and a trailer holding a personal identity number (never repeated), header
    values with UTF-8 and bidi bytes (Accept: 406, Content-Type: 415, Authorization: 401, any other ignored), and
    query arrays in brackets (`year[]=7`, `organiser_id[0]=`: `unknown_parameter`)."""
    name, service = running
    token = auth(token_issuer)["Authorization"].encode()
    wrong: list[str] = []
    with _client(service, token_issuer) as client:
        operations = _operations(client)
    for method, path, operation in operations:
        target = method.encode() + b" " + fill(path).encode() + b" HTTP/1.1\r\nHost: h\r\n"
        body = "requestBody" in operation
        sent = b"\r\nContent-Type: application/json\r\nContent-Length: 2" if body else b""
        for upgrade in (b"websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13",
                        b"h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"):
            status, answer = _raw(service.url, target + b"Authorization: " + token + b"\r\nConnection: Upgrade\r\n"
                                  b"Upgrade: " + upgrade + sent, b"{}" if body else b"")
            if status in (0, 101) or status >= 500:
                wrong.append(f"{method} {path} upgrade {upgrade[:9]!r}: {answer[:160]!r}")
        if body:
            for framing, expected in ((b"Transfer-Encoding: Chunked", None), (b"Transfer-Encoding:\tchunked", None),
                                      (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", 400),
                                      (b"Transfer-Encoding: chunked\r\nContent-Length: 30", 400)):
                status, answer = _raw(service.url, target + b"Authorization: " + token +
                                      b"\r\nContent-Type: application/json\r\n" + framing, _CHUNKED_WITH_A_NUMBER)
                if status == 0 or status >= 500 or (expected is not None and status != expected) \
                        or contains_personal_identity_number(answer.decode("utf-8", "replace")):
                    wrong.append(f"{method} {path} {framing!r}: {answer[:200]!r}")
        for header, expected in ((b"Accept", 406), (b"Content-Type", 415 if body else None),
                                 (b"Authorization", None if path == "/healthz" else 401), (b"X-Note", None)):
            head = target + (b"" if header == b"Authorization" else b"Authorization: " + token + b"\r\n")
            head += header + b": application/json \xc3\xa5\xe2\x80\xae"
            if body:
                head += (b"\r\nContent-Length: 2" if header == b"Content-Type" else sent)
            status, answer = _raw(service.url, head, b"{}" if body else b"")
            if status == 0 or status >= 500 or (expected is not None and status != expected):
                wrong.append(f"{method} {path} {header!r} not Latin-1: {answer[:200]!r}")
        bracketed = httpx.request(method, service.url + fill(path) + "?year[]=7&organiser_id[0]=2999",
                                  headers={"Authorization": token.decode()}, timeout=60)
        if bracketed.status_code != 422 or ("year[]", "unknown_parameter") not in _rules(bracketed):
            wrong.append(f"{method} {path} ?year[]=: {bracketed.status_code} {bracketed.text[:160]!r}")
    assert not wrong, f"{name}: {len(wrong)} wrong:\n" + "\n".join(wrong[:30])


# -- tokens ----------------------------------------------------------------------------------------------------------


def _tokens(issuer: Any) -> dict[str, tuple[str, int]]:
    """name → (Authorization header value, the status a read answers with it)."""
    minter = issuer.minter
    now = int(time.time())
    good = jwt.decode(broad_token(issuer), options={"verify_signature": False})
    stranger = ec.generate_private_key(ec.SECP256R1())
    stranger_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(stranger.public_key()))

    def signed(claims: dict[str, Any] | None = None, headers: dict[str, Any] | None = None, key: Any = None) -> str:
        return "Bearer " + jwt.encode({**good, **(claims or {})}, key or minter.key, algorithm="ES256",
                                      headers={"kid": minter.kid, **(headers or {})})

    token = signed().removeprefix("Bearer ")
    return {
        "lowercase bearer": (f"bearer {token}", 200),
        "BEARER": (f"BEARER {token}", 200),
        "two tokens in one header": (f"Bearer {token} {token}", 401),
        "two credentials in one header": (f"Bearer {token}, Bearer {token}", 401),
        "a tab after the scheme": (f"Bearer\t{token}", 401),
        "jku naming another key set": (signed(headers={"jku": "http://127.0.0.1:1/jwks.json", "kid": "evil"},
                                              key=stranger), 401),
        "x5u naming another certificate": (signed(headers={"x5u": "http://127.0.0.1:1/cert.pem"}, key=stranger), 401),
        "jwk embedding another key": (signed(headers={"jwk": stranger_jwk}, key=stranger), 401),
        "kid a path": (signed(headers={"kid": "../../../../dev/null"}, key=stranger), 401),
        "kid a path, the issuer's key": (signed(headers={"kid": "../" + minter.kid}), 401),
        "crit naming an unknown extension": (signed(headers={"crit": ["exp-ms"], "exp-ms": 1}), 401),
        "exp a string": (signed({"exp": str(now + 600)}), 401),
        "exp a float": (signed({"exp": now + 600.5}), 200),
        "exp in exponent notation": (signed({"exp": float(now + 600)}), 200),
        "aud a list holding ours": (signed({"aud": [minter.audience, "another-api"]}), 200),
        "aud a list without ours": (signed({"aud": ["another-api"]}), 401),
        "nbf an hour ahead": (signed({"nbf": now + 3600}), 401),
        "iat an hour ahead": (signed({"iat": now + 3600, "exp": now + 4000}), 401),
    }


@pytest.mark.integration
@pytest.mark.postgres_only
def test_tokens_in_odd_forms_are_judged_as_documented(running, token_issuer):
    """Tried and held (the kit's `BearerAuth` and `TokenVerifier`, alike in every service; read here on reporting):
    the scheme in any case (RFC 9110 §11.1), two tokens or a tab after the scheme (401), key references a token
    names itself (`jku`, `x5u`, an embedded `jwk`, a path as `kid`: only the issuer's JWKS is ever asked, by
    `kid`), a critical extension no one here understands (RFC 7515 §4.1.11: 401), `exp` as text (401) or a
    non-integer number (RFC 7519 NumericDate: taken), `aud` a list (taken where it holds ours), `nbf` or `iat`
    ahead (401). Every 401 a problem+json with its challenge."""
    name, service = running
    if name != "reporting":
        pytest.skip("the kit's token check, read on one service")
    wrong = []
    for what, (header, expected) in _tokens(token_issuer).items():
        answer = httpx.get(service.url + f"/v1/directory/organisers/{ORGANISER}/tree",
                           headers={"Authorization": header}, timeout=60)
        if answer.status_code != expected:
            wrong.append(f"{what}: {answer.status_code}, not {expected}: {answer.text[:160]!r}")
        elif expected == 401 and (not answer.headers.get("content-type", "").startswith("application/problem+json")
                                  or "bearer" not in answer.headers.get("www-authenticate", "").lower()):
            wrong.append(f"{what}: {answer.headers} {answer.text[:160]!r}")
    assert not wrong, "\n".join(wrong)
