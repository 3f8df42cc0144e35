"""Hostile inputs, round 19: names spaced otherwise inside, characters no file can hold, a client that sends more than
an instance can take, browsers from another origin, and a fresh sweep of headers, queries and events.

Found and fixed (each test failed on the old code, as said at it):
- Names: "Norra  skolan" (two spaces) and "Norra\\u00a0skolan" (a no-break space a word processor pasted) look like
  "Norra skolan" on every page and in every spreadsheet, and were three units, tags or owners. Now every run of
  spaces inside a name is one ordinary space (the contracts' `name_form`, at every door: HTTP, the topics, the SS
  12000 import, LIKA's owners and tags; the decode's fast path takes only the formed name). Names stored before
  rounds 18 and 19 are not rewritten in place (the contracts' README says why and what rewrites them).
- Unicode's noncharacters (U+FFFE, U+FFFF, U+FDD0-U+FDEF, ...) passed every text rule: a LIKA comment holding one
  was stored and made its workbook XML that Excel refuses to open (XML 1.0 cannot hold U+FFFE/U+FFFF), as a unit's
  name did every reporting xlsx naming it. Now `no_noncharacters` (the contracts' `check_text`, LIKA's own rule).
- Overload: nothing bounded what one instance took on. A client opening hundreds of connections, or sending bulk
  writes in a loop, had every request taken (each body of up to 4 MiB and its parsed items in memory while it
  waited up to 30 s for a database connection), and LIKA wrote its workbooks on the event loop (a large one held
  every other request, the probes too). Now the kit's `OverloadGuard` answers beyond `max_requests_in_flight` (1000)
  requests or `max_writes_in_flight` (64) writes a 503 `overloaded` with Retry-After, before the body is read; files
  (reporting's CSV and xlsx, LIKA's workbooks) at most `max_exports_in_flight` (8) at once; LIKA's workbooks in a
  thread; the probes never counted (packages/kit/tests/test_admission.py).
- A CORS preflight from an origin not listed (or asking a method or header not taken) was Starlette's `text/plain`
  400 "Disallowed CORS origin", carrying the lists of methods and headers; now a problem naming the header and the
  rule (`cors_origin`, `cors_method`, `cors_headers`), without the lists for an origin not listed.

Tried and held (swept here on every GET operation of every service, from its OpenAPI document, or probed):
`If-None-Match: *` (reporting's kept answers: 304, as RFC 9110 §13.1.2 has it; elsewhere ignored), an ETag list of
4,000 entries, `If-Match`, `If-Modified-Since: garbage` (ignored), `Range` (one range or 500: ignored, the whole
answer, no 206 or 416); `%00` in a query value or name (a 4xx problem); HEAD on every GET operation (GET's status, no body); `Content-Disposition` of every
file (ASCII fallback and `filename*`, built from codes and ids, never a name); formula starts (`=`, `+`, `-`, `@`,
tab, CR) and a right-to-left override in LIKA comments (formulas written as text cells; the override refused since
round 5); surrogate escapes `\\ud800` in JSON (refused at the HTTP door since round 1, in events here); ids right at
their documented maximum and one past it (a body's student, group and teacher id: 64; a unit id in a path: 80):
taken, and 422 naming the field. Events: an unknown field in `data` or an
extension attribute (refused, `invalid_data` / `invalid_envelope`: one rule for every contract version, the
contracts' README), a `subject` naming another record than its data (applied by its data: the subject is a
producer's label no consumer reads; documented there), `time` and `dataschema` (rounds 5, 15 and 17).
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any
from xml.dom import minidom

import httpx
import pytest
from inprocess import ORGANISER, RunningService, auth, start_service
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from test_hostile_http import fill

from styrkedja_contracts import ContractError, decode_event
from styrkedja_contracts.envelope import decode_plain
from styrkedja_contracts.examples import example_bytes
from styrkedja_lika.catalogue.library import library
from styrkedja_lika.exports import routes as lika_exports

UNIT = "se.styrkedja.organisation.unit_upserted.v1"
NONCHARACTERS = ["\ufffe", "\uffff", "\ufdd0", "\U0001fffe", "\U0010ffff"]


def _client(service: Any, token_issuer: Any) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=300)


def _rules(answer: httpx.Response) -> list[tuple[str, str]]:
    return [(e["field"], e["rule"]) for e in answer.json()["errors"]]


def _draft(client: httpx.Client) -> str:
    draft = client.post("/v1/self-assessments", json={
        "organiser_id": ORGANISER, "school_unit_code": "29990011", "school_form": "grundskola",
        "respondent_role": "rektor", "catalogue_version": "2026.2"})
    assert draft.status_code == 201, draft.text
    return str(draft.json()["self_assessment_id"])


def _cells(workbook: bytes) -> list[tuple[str, str]]:
    """(type, text) of every cell of the workbook's sheets; every part must be well-formed XML."""
    found = []
    with zipfile.ZipFile(io.BytesIO(workbook)) as z:
        for part in z.namelist():
            if part.endswith(".xml"):
                document = minidom.parseString(z.read(part))  # Excel opens no file whose XML is not well-formed
                if part.startswith("xl/worksheets/"):
                    for cell in document.getElementsByTagName("c"):
                        texts = cell.getElementsByTagName("t") + cell.getElementsByTagName("f")
                        found.append((cell.getAttribute("t"), "".join(
                            n.data for t in texts for n in t.childNodes if n.nodeType == n.TEXT_NODE)))
    return found


# -- names: a run of spaces inside is one space ----------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_directory_name_spaced_otherwise_inside_is_the_same_name(running, token_issuer):
    """Reporting's directory door. Failed on the old code: each spacing was a change (`changed`: a new name
    published, another spelling of one unit in every report)."""
    name, service = running
    if name != "reporting":
        pytest.skip("the directory's door")
    base = json.loads(example_bytes(UNIT))["data"]
    base = {**base, "organiser_id": ORGANISER, "unit_id": "grp-round-19"}

    def send(text: str) -> httpx.Response:
        return client.post("/v1/directory/changes", json={"items": [{"type": UNIT, "data": {**base, "name": text}}]})

    with _client(service, token_issuer) as client:
        first = send("Norra skolan 19")
        assert first.status_code == 200 and first.json()["created"] == 1, first.text
        for text in ("Norra  skolan 19", "Norra\u00a0skolan 19", " Norra \u2003 skolan\u3000\u300019 "):
            again = send(text)
            assert again.status_code == 200 and again.json()["unchanged"] == 1, (text, again.text)


# -- characters no file can hold ------------------------------------------------------------------------------------


@pytest.mark.parametrize("char", NONCHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
def test_an_event_holding_a_noncharacter_is_refused_with_the_reason(char: str) -> None:
    """Failed on the old code: decoded, and the name stored."""
    doc = json.loads(example_bytes(UNIT))
    doc["data"]["name"] = f"Skola{char}"
    for raw in (json.dumps(doc).encode(), json.dumps(doc, ensure_ascii=False).encode()):
        with pytest.raises(ContractError, match="data.name: must not contain Unicode noncharacters") as caught:
            decode_event(raw)
        assert caught.value.reason == "invalid_data"


@pytest.mark.integration
@pytest.mark.postgres_only
def test_noncharacters_are_refused_at_the_doors_and_hostile_comments_make_a_workbook_excel_opens(running, token_issuer):
    """LIKA's comment and reporting's directory name. Failed on the old code: the comment was stored (200) and the
    workbook's sheet was XML no parser reads (`not well-formed (invalid token)`); the unit's name was stored.
    Held: comments a spreadsheet would run (a formula start, a tab or CR first) are text cells."""
    name, service = running
    if name not in ("lika", "reporting"):
        pytest.skip("LIKA's comments and reporting's directory")
    with _client(service, token_issuer) as client:
        if name == "reporting":
            base = {**json.loads(example_bytes(UNIT))["data"], "organiser_id": ORGANISER, "unit_id": "grp-r19-nc"}
            for char in NONCHARACTERS:
                refused = client.post("/v1/directory/changes", json={"items": [
                    {"type": UNIT, "data": {**base, "name": f"Skola{char}"}}]})
                assert refused.status_code == 422, refused.text
                # the door reads an item's data as an object first, whose text rules name the whole of it (as a
                # personal identity number's do there)
                assert _rules(refused) in ([("items.0.data.name", "no_noncharacters")],
                                           [("items.0.data", "no_noncharacters")]), refused.text
            return
        sa_id = _draft(client)
        path = f"/v1/self-assessments/{sa_id}/ratings"
        for char in NONCHARACTERS:
            refused = client.patch(path, json={"ratings": [
                {"indicator_id": "GR-LED-01", "rating": "STARTED", "comment": f"Bra{char}"}]})
            assert refused.status_code == 422, refused.text
            assert ("ratings.0.comment", "no_noncharacters") in _rules(refused), refused.text
        hostile = ["=HYPERLINK(\"https://evil.example\",\"klicka\")", "+46 skolan", "-1+1", "@SUM(A1)",
                   "\t=1+1", "\r=1+1", "Läraren 👩\u200d🏫 bedömde", "Rad ett\nRad två"]
        saved = client.patch(path, json={"ratings": [
            {"indicator_id": indicator.id, "rating": "STARTED", "comment": comment}
            for indicator, comment in zip(library().get("2026.2").indicators_for("grundskola"), hostile,
                                          strict=False)]})
        assert saved.status_code == 200, saved.text
        workbook = client.get(f"/v1/self-assessments/{sa_id}/export.xlsx")
        assert workbook.status_code == 200, workbook.text
        cells = _cells(workbook.content)
        for comment in hostile:
            kinds = {kind for kind, shown in cells if shown == comment.replace("\r", "\n")}
            assert kinds and kinds <= {"s", "inlineStr", "str"} and "f" not in kinds, (comment, kinds)
        disposition = workbook.headers["content-disposition"]
        assert disposition.isascii() and f"-{sa_id}.xlsx" in disposition, disposition


# -- overload --------------------------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.postgres_only
def test_lika_writes_its_workbooks_off_the_event_loop_and_at_most_so_many_at_once(running, token_issuer,
                                                                                 monkeypatch):
    """Failed on the old code: `workbook_bytes` ran in the server's own thread (its event loop), and a workbook was
    written whatever number were being written."""
    name, service = running
    if name != "lika":
        pytest.skip("LIKA's workbooks")
    threads: list[str] = []
    written = lika_exports.workbook_bytes

    def recorded(sheets: Any) -> bytes:
        threads.append(threading.current_thread().name)
        return written(sheets)

    monkeypatch.setattr(lika_exports, "workbook_bytes", recorded)
    slots = service.server.config.app.state.export_slots  # type: ignore[attr-defined]
    with _client(service, token_issuer) as client:
        sa_id = _draft(client)
        assert client.get(f"/v1/self-assessments/{sa_id}/export.xlsx").status_code == 200
        assert threads and threads[0] != service.thread.name, threads
        taken = [slots.take() for _ in range(slots.limit)]  # every slot held, as by so many workbooks in flight
        try:
            assert all(taken)
            busy = client.get(f"/v1/self-assessments/{sa_id}/export.xlsx")
            assert busy.status_code == 503, busy.text
            assert _rules(busy) == [("request", "overloaded")] and busy.headers["retry-after"] == "1", busy.text
            assert busy.headers["content-type"].startswith("application/problem+json")
            assert client.get(f"/v1/self-assessments/{sa_id}").status_code == 200  # reads go on
        finally:
            for _ in taken:
                slots.give()
        assert client.get(f"/v1/self-assessments/{sa_id}/export.xlsx").status_code == 200


@pytest.mark.integration
@pytest.mark.postgres_only
def test_reportings_files_are_bounded_and_its_json_is_not(running, token_issuer):
    """Failed on the old code: every CSV and xlsx was written however many were in flight."""
    name, service = running
    if name != "reporting":
        pytest.skip("reporting's exports")
    slots = service.server.config.app.state.export_slots  # type: ignore[attr-defined]
    url = f"/v1/lika/compilation?organiser_id={ORGANISER}&format="
    with _client(service, token_issuer) as client:
        first = client.get(url + "csv")
        assert first.status_code == 200, first.text
        _until_given_back(slots)  # the slot is given back once the last byte is sent, a moment after it is read
        taken = [slots.take() for _ in range(slots.limit)]
        try:
            assert all(taken)
            # an indicator no earlier request named: no answer kept for it (a kept answer is sent as it is, no file
            # written), by this test's first request or by another's on this session's shared service
            for fmt in ("csv", "xlsx"):
                busy = client.get(f"{url}{fmt}&indicator_id=busy-{uuid.uuid4().hex}")
                assert busy.status_code == 503 and _rules(busy) == [("request", "overloaded")], busy.text
                assert busy.headers["retry-after"] == "1"
            assert client.get(url + "json").status_code == 200
        finally:
            for _ in taken:
                slots.give()
        answer = client.get(url + "xlsx")
        assert answer.status_code == 200, answer.text
        _until_given_back(slots)


def _until_given_back(slots: Any) -> None:
    for _ in range(600):
        if slots.held_now == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"{slots.held_now} slots never given back")


@pytest.fixture
def one_write_at_once(infrastructure, token_issuer) -> Iterator[RunningService]:
    service = start_service("assessment", infrastructure, token_issuer, max_writes_in_flight=1, metrics_on_app_port=True)
    try:
        yield service
    finally:
        service.stop()


def _assessment(record_id: str, value: str = "C") -> dict[str, Any]:
    student = "stu-" + uuid.uuid4().hex[:10].translate(str.maketrans("0123456789", "ghijklmnop"))
    return {"assessment_id": record_id, "organiser_id": ORGANISER, "school_unit_code": "29990011",
            "group_id": "7A", "student_id": student, "teacher_id": "t-81", "gender": "female", "year": 7,
            "subject_code": "GRGRMAT01", "kind": "assessment", "scale": "AF", "value": value, "unmet_criteria": [],
            "school_year": "2026/27", "term": "HT", "round": 1, "assessed_on": "2026-11-02"}


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_a_write_beyond_the_bound_is_a_503_at_once_and_the_probes_still_answer(one_write_at_once,
                                                                                    token_issuer):
    """A revision waits for a row another client holds, taking the one write slot; the next write is answered 503
    `overloaded` with Retry-After at once (its body never read), reads and the probes go on, and the waiting write is
    stored once the row is free. Failed on the old code: the second write was taken and waited beside the first."""
    service = one_write_at_once
    record_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=service.url, headers=auth(token_issuer), timeout=120) as client:
        first = await client.post("/v1/assessments", json=_assessment(record_id))
        assert first.status_code == 201, first.text
        engine = create_async_engine(service.server.config.app.state.runtime.db.url,  # type: ignore[attr-defined]
                                     poolclass=NullPool)
        try:
            async with engine.connect() as holder:
                await holder.execute(text("SELECT 1 FROM assessments WHERE assessment_id = :id FOR UPDATE"),
                                     {"id": record_id})
                waiting = asyncio.ensure_future(client.post("/v1/assessments", json=_assessment(record_id, "B")))
                async with engine.connect() as watcher:  # until the revision waits for the row
                    while not (await watcher.execute(text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND datname = current_database()"))).scalar_one():
                        await asyncio.sleep(0.05)
                busy = await client.post("/v1/assessments", json=_assessment(str(uuid.uuid4())))
                assert busy.status_code == 503, busy.text
                assert _rules(busy) == [("request", "overloaded")] and busy.headers["retry-after"] == "1", busy.text
                for probe in ("/healthz", "/metrics"):
                    assert (await client.get(probe)).status_code == 200
                read = await client.get("/v1/assessments", params={"organiser_id": ORGANISER})
                assert read.status_code < 500, read.text
                await holder.rollback()
            stored = await waiting
        finally:
            await engine.dispose()
    assert stored.status_code in (200, 201), stored.text
    assert stored.json()["revision"] == 2, stored.text


# -- browsers from another origin ----------------------------------------------------------------------------------


@pytest.fixture
def with_cors(infrastructure, token_issuer) -> Iterator[RunningService]:
    service = start_service("reporting", infrastructure, token_issuer, cors_allow_origins=["https://app.example"])
    try:
        yield service
    finally:
        service.stop()


@pytest.mark.integration
@pytest.mark.postgres_only
@pytest.mark.parametrize("origin, method, headers, refused", [
    ("https://evil.example", "GET", None, [("origin", "cors_origin")]),
    ("null", "GET", None, [("origin", "cors_origin")]),
    ("https://app.example.evil", "GET", None, [("origin", "cors_origin")]),
    ("https://app.example", "TRACE", None, [("access-control-request-method", "cors_method")]),
    ("https://app.example", "GET", "x-evil", [("access-control-request-headers", "cors_headers")]),
    ("https://evil.example", "TRACE", None, [("origin", "cors_origin"),
                                             ("access-control-request-method", "cors_method")]),
    ("https://app.example", "GET", "authorization, content-type", []),
])
def test_a_preflight_a_service_does_not_answer_is_a_problem_naming_the_header(with_cors, origin, method, headers,
                                                                               refused):
    """Failed on the old code: `text/plain` "Disallowed CORS origin", with the lists of methods and headers."""
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    with httpx.Client(base_url=with_cors.url, timeout=60) as client:
        answer = client.request("OPTIONS", "/v1/alerts", headers=asked)
    if not refused:
        assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == origin
        return
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers
    assert _rules(answer) == refused, answer.text
    if refused[0][0] == "origin":
        assert not [k for k in answer.headers if k.startswith("access-control-")], answer.headers


# -- a sweep of headers and queries on every GET operation ------------------------------------------------------------

ODD_HEADERS: list[dict[str, str]] = [
    {"If-None-Match": "*"}, {"If-None-Match": ", ".join(f'W/"{n}"' for n in range(4000))}, {"If-Match": '"nope"'},
    {"If-Modified-Since": "garbage"}, {"Range": "bytes=0-10"}, {"Range": "bytes=" + ",".join(["0-1"] * 500)},
    {"Range": "items=-1"},
]


@pytest.mark.integration
@pytest.mark.postgres_only
def test_conditional_and_range_headers_and_nul_in_queries_are_held(running, token_issuer):
    name, service = running
    with _client(service, token_issuer) as client:
        paths = client.get("/openapi.json").json()["paths"]
        for path, item in paths.items():
            if "get" not in item or path == "/readyz":  # not ready without a broker here
                continue
            url = fill(path, organiser_id=ORGANISER)
            got, head = client.get(url), client.head(url)  # HEAD wherever GET: its status and headers, no body
            assert (head.status_code, head.content) == (got.status_code, b""), (url, head.status_code, got.text[:300])
            for headers in ODD_HEADERS:
                answer = client.get(url, headers=headers)
                assert answer.status_code < 500 and answer.status_code not in (206, 412, 416), (url, headers,
                                                                                                answer.text[:300])
                assert answer.status_code != 304 or headers.get("If-None-Match") == "*", (url, headers)
                if answer.status_code >= 400:
                    assert answer.headers["content-type"].startswith("application/problem+json"), (url, answer.text)
            for query in ("x=%00", "format=%00", "limit=1%00", "%00=1"):
                answer = client.get(url + ("&" if "?" in url else "?") + query)
                assert 400 <= answer.status_code < 500, (url, query, answer.text[:300])
                assert answer.headers["content-type"].startswith("application/problem+json"), (url, answer.text)


@pytest.mark.integration
@pytest.mark.postgres_only
def test_ids_at_their_documented_maximum_are_taken_and_one_past_it_refused_naming_the_field(running, token_issuer):
    name, service = running
    if name not in ("assessment", "reporting"):
        pytest.skip("a body's ids (assessment) and a path's (reporting)")
    with _client(service, token_issuer) as client:
        if name == "assessment":
            for field in ("student_id", "group_id", "teacher_id"):
                at_most = client.post("/v1/assessments", json={**_assessment(str(uuid.uuid4())), field: "s" * 64})
                assert at_most.status_code == 201, (field, at_most.text)
                past = client.post("/v1/assessments", json={**_assessment(str(uuid.uuid4())), field: "s" * 65})
                assert past.status_code == 422 and [f for f, _ in _rules(past)] == [field], (field, past.text)
            return
        # a unit id of any level, as a path parameter: at most 80 characters (its documented pattern)
        at_most = client.get(f"/v1/directory/units/{'u' * 80}", params={"organiser_id": ORGANISER})
        assert at_most.status_code == 404 and _rules(at_most) == [("unit_id", "not_found")], at_most.text
        past = client.get(f"/v1/directory/units/{'u' * 81}", params={"organiser_id": ORGANISER})
        assert past.status_code == 422 and [f for f, _ in _rules(past)] == ["unit_id"], past.text


# -- events --------------------------------------------------------------------------------------------------------


def test_events_unknown_fields_a_subject_of_another_record_and_surrogates_each_have_one_rule() -> None:
    doc = json.loads(example_bytes(UNIT))
    other_subject = {**doc, "subject": "grp-another-record"}
    event = decode_event(json.dumps(other_subject).encode())  # applied by its data, as documented
    assert event.data.unit_id == doc["data"]["unit_id"]  # type: ignore[attr-defined]
    assert decode_plain(json.dumps(other_subject, ensure_ascii=False).encode()) is not None  # the fast path alike
    for changed, reason in (({**doc, "data": {**doc["data"], "shoe_size": 42}}, "invalid_data"),
                            ({**doc, "data": {**doc["data"], "name": "Sk\ud800ola"}}, "invalid_data"),
                            ({**doc, "comexample": "x"}, "invalid_envelope")):
        with pytest.raises(ContractError) as caught:
            decode_event(json.dumps(changed).encode())
        assert caught.value.reason == reason, changed
    spaced = {**doc, "data": {**doc["data"], "name": "Björk  skolan\u00a07B"}}
    assert decode_event(json.dumps(spaced).encode()).data.name == "Björk skolan 7B"  # type: ignore[attr-defined]
