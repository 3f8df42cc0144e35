"""Hostile inputs, third round: the gaps rounds 1–2 left open, each fixed at its general rule.

- Events: a record whose key is not the organiser its event names (or has no key) was applied beside
  that organiser's order; now `key_mismatch` (the kit's `unfit`, by the contracts' topic registry), in
  the live consumer and the rebuild alike. The same event re-sent as other JSON (key order, spacing,
  escapes) was a `conflicting_duplicate`; now it is a duplicate. Headers a producer adds (a forged
  `dlq.reason`, a personal identity number) never reach a dead letter.
- Broker: the kit creates its topics with `message.timestamp.type=LogAppendTime` where the broker takes
  it, so `time_in_future` judges by the broker's clock, not by a timestamp the producer chose.
- HTTP: a JSON body in UTF-16 or UTF-32 (no charset said) or with a byte order mark was read by the
  routes FastAPI parses (`json.loads` of bytes detects the encoding); now a 415 at the RequestGuard.
  What uvicorn refuses by itself (a malformed request, a head of megabytes) was plain text, or not
  refused at all; now problem+json from the kit's protocol class (`styrkedja_kit.server`).
- Files: the SS 12000 folder import read each file whole; now it streams it (ijson), with the same
  refusals, and its memory does not grow with the file.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import select
from test_hostile_events import encoded, good

from styrkedja_cli.ss12000.source import FolderSource, SourceError
from styrkedja_contracts import decode_event
from styrkedja_contracts.identifiers import contains_personal_identity_number
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.testing import RecordingProducer
from styrkedja_kit.app import RequestGuard
from styrkedja_kit.consumer import ConsumerLoop, unfit
from styrkedja_kit.db import Database
from styrkedja_kit.kafka import TOPIC_CONFIG, broker_capabilities, ensure_topics
from styrkedja_kit.problems import install_problem_handlers
from styrkedja_kit.settings import ServiceSettings
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.persistence import metadata
from styrkedja_reporting.rebuild.bulk import decoded_and_staged
from styrkedja_reporting.settings import ReportingSettings
from support import other_form

PIN = "19121212-1212"
PROBLEM = "application/problem+json"
ROOT = Path(__file__).resolve().parents[1]
UNIT = "se.styrkedja.organisation.unit_upserted.v1"


# -- events: keys, duplicates, headers -------------------------------------------------------------


def _record(topic: str, offset: int, value: bytes | None, key: bytes | None,
            headers: tuple[tuple[str, bytes], ...] = ()) -> ConsumerRecord:
    return ConsumerRecord(topic, 0, offset, -1, 0, key, value, None, len(key or b""), len(value or b""), headers)


def _loop(database_url: str, group: str) -> tuple[ConsumerLoop, Database]:
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers="unused:9092",
                                 outbox_enabled=False, consumer_enabled=False)
    database = Database(database_url, pool_size=2)
    registry = handler_registry()
    return ConsumerLoop(settings, database, group_id=group, topics=["styrkedja.organisation"], handler=registry,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles), database


async def _unit_names(database: Database, *unit_ids: str) -> list[str]:
    units = metadata.tables["directory_units"]
    async with database.sessions() as session:
        return list((await session.execute(select(units.c.name).where(units.c.unit_id.in_(unit_ids)))).scalars())


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_a_record_keyed_by_another_organiser_or_by_none_is_dead_lettered_as_key_mismatch(infrastructure):
    """The key puts one organiser's events in one partition, in order, with one writer in reporting.
    A record keyed by another organiser (or by none, spread by the producer at will) was applied beside
    that order. Failed on the old code: all four applied, nothing dead-lettered."""
    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), "hostile3-keys")
    topic = "styrkedja.organisation"
    right, other_key, no_key, other_body = (good(UNIT) for _ in range(4))
    for n, document in enumerate((right, other_key, no_key, other_body)):
        document["data"] = {**document["data"], "unit_id": f"9{n:07d}", "name": f"Enhet {n}"}
    other_body["data"]["organiser_id"] = "2998"  # the body says another organiser than the key
    producer = RecordingProducer()
    try:
        await loop.process({TopicPartition(topic, 0): [
            _record(topic, 0, encoded(right), b"2999"), _record(topic, 1, encoded(other_key), b"0180"),
            _record(topic, 2, encoded(no_key), None), _record(topic, 3, encoded(other_body), b"2999",
                                                               headers=(("note", PIN.encode()),))]}, producer)
        assert loop.applied_count == 1
        assert [(h["dlq.offset"], h["dlq.reason"]) for _, _, h in producer.sent] == [
            (b"1", b"key_mismatch"), (b"2", b"key_mismatch"), (b"3", b"key_mismatch")]
        assert all(b"data.organiser_id" in h["dlq.message"] for _, _, h in producer.sent)
        assert await _unit_names(database, *(d["data"]["unit_id"] for d in (right, other_key, no_key))) == ["Enhet 0"]
    finally:
        await database.dispose()


def test_the_rebuild_judges_a_records_key_as_the_live_consumer_does():
    """The rebuild reads the same log: it must leave out what the live consumer dead-letters."""
    topic = "styrkedja.organisation"
    value = encoded(good(UNIT))
    staged = decoded_and_staged([(topic, 0, 0, value, -1, b"2999"), (topic, 0, 1, value, -1, b"0180"),
                                 (topic, 0, 2, encoded(good(UNIT)), -1, None)], 0, 1_000_000)
    assert [(index, reason) for index, reason, _ in staged.dead] == [(1, "key_mismatch"), (2, "key_mismatch")]
    event = decode_event(value)
    verdicts = [unfit(event, topic, None, key=key) for key in (b"0180", None, b"2999")]
    assert [v and v[0] for v in verdicts] == ["key_mismatch", "key_mismatch", None]


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_the_same_event_resent_as_other_json_is_a_duplicate_not_a_conflict(infrastructure):
    """`conflicting_duplicate` compared the records' bytes: the same event re-sent by a producer that
    writes JSON another way (key order, spacing, escapes) was dead-lettered as another event under the
    id. An event is a JSON value (the contracts: "consumers deduplicate on" the id). Failed on the old
    code: both re-sends dead-lettered. Another content under the id is still a conflict."""
    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), "hostile3-forms")
    topic = "styrkedja.organisation"
    first = decode_event(encoded(good(UNIT)))
    document = json.loads(first.to_bytes())  # as every outbox sends it
    changed = {**document, "data": {**document["data"], "name": "Ett annat namn"}}
    twin = decode_event(encoded(good(UNIT)))
    twin_document = json.loads(twin.to_bytes())
    producer = RecordingProducer()
    partition = TopicPartition(topic, 0)
    try:
        await loop.process({partition: [_record(topic, 0, first.to_bytes(), b"2999")]}, producer)
        await loop.process({partition: [_record(topic, 1, other_form(document), b"2999"),
                                        _record(topic, 2, encoded(document), b"2999"),
                                        _record(topic, 3, encoded(changed), b"2999")]}, producer)
        # in one batch: the first counts, its other form is the same event
        await loop.process({partition: [_record(topic, 4, twin.to_bytes(), b"2999"),
                                        _record(topic, 5, other_form(twin_document), b"2999")]}, producer)
        assert loop.applied_count == 2
        assert [(h["dlq.offset"], h["dlq.reason"]) for _, _, h in producer.sent] == [(b"3", b"conflicting_duplicate")]
        assert await _unit_names(database, document["data"]["unit_id"]) == [document["data"]["name"]]
    finally:
        await database.dispose()


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_a_producers_headers_never_reach_a_dead_letter(infrastructure):
    """A record may carry headers of its own: a forged `dlq.reason`, a personal identity number, bytes
    that are not text, a thousand of them. The dead letter has the consumer's headers only."""
    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), "hostile3-headers")
    topic = "styrkedja.organisation"
    headers = (("dlq.reason", b"all_fine"), ("dlq.redacted", b"0"), ("civic", PIN.encode()), ("\x00", b"\xff\xfe"),
               *((f"h{i}", b"x" * 100) for i in range(1000)))
    producer = RecordingProducer()
    try:
        await loop.process({TopicPartition(topic, 0): [
            _record(topic, 0, b"not json " + PIN.encode(), b"2999", headers),
            _record(topic, 1, None, b"2999", headers)]}, producer)  # a tombstone
        assert loop.applied_count == 0
        assert [h["dlq.reason"] for _, _, h in producer.sent] == [b"undecodable", b"undecodable"]
        for _, value, sent in producer.sent:
            assert set(sent) <= {"dlq.reason", "dlq.message", "dlq.redacted", "dlq.topic", "dlq.partition",
                                 "dlq.offset", "dlq.group", "dlq.time", "dlq.truncated"}
            assert not contains_personal_identity_number((value or b"").decode("utf-8", "replace"))
            assert not any(contains_personal_identity_number(v.decode("utf-8", "replace")) for v in sent.values())
    finally:
        await database.dispose()


# -- broker: the record's timestamp ------------------------------------------------------------------


@pytest.mark.integration
async def test_the_kits_topics_take_the_brokers_time_so_time_in_future_is_judged_by_it(infrastructure):
    """A producer chooses its records' timestamps (CreateTime): one that dates a record in 2199 got its
    event dated 2199 past `time_in_future`, and reporting's clock moved there for good. The kit creates
    its topics with LogAppendTime: the broker stamps each record. Asked of every broker, not assumed:
    Apache Kafka takes it (the event is then judged by the broker's clock and dead-lettered); a broker
    that does not keeps the producer's timestamp, which the consumer can only trust. Failed on the old
    code on Apache Kafka: CreateTime, the event passed."""
    settings = ServiceSettings(kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    topic = f"hostile3-append-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [(topic, 1)])
    ahead = {**good(UNIT), "time": "2199-01-01T00:00:00+00:00"}
    chosen_ms = 7_226_582_400_000  # 2199-01-01T00:00:00Z, the producer's choice
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, encoded(ahead), key=b"2999", timestamp_ms=chosen_ms)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        records: list[ConsumerRecord] = []
        for _ in range(60):
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records += batch
            if records:
                break
    finally:
        await consumer.stop()
    assert len(records) == 1
    record = records[0]
    verdict = unfit(decode_event(record.value), topic, record.timestamp, key=record.key)
    capabilities = await broker_capabilities(settings)
    if capabilities.durable_logs:  # Apache Kafka: takes the topic configuration
        assert TOPIC_CONFIG == {"message.timestamp.type": "LogAppendTime"}
        assert record.timestamp_type == 1 and record.timestamp < chosen_ms
    if record.timestamp_type == 1:  # the broker's clock: the event lies 170 years after it
        assert verdict is not None and verdict[0] == "time_in_future", verdict
    else:  # the embedded broker keeps CreateTime: the producer's timestamp is all there is
        assert record.timestamp == chosen_ms and verdict is None


# -- HTTP: the charset the bytes show --------------------------------------------------------------


class Item(BaseModel):
    name: str


def _guarded_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestGuard, max_body_bytes=1 << 20)

    @app.post("/items")
    async def create(item: Item) -> dict[str, str]:  # FastAPI's own body parsing
        return {"name": item.name}

    return app


BODY = '{"name": "Åsa"}'


@pytest.mark.parametrize("label, raw", [
    ("utf-16 with a byte order mark", BODY.encode("utf-16")),
    ("utf-16-le", BODY.encode("utf-16-le")),
    ("utf-16-be", BODY.encode("utf-16-be")),
    ("utf-32 with a byte order mark", BODY.encode("utf-32")),
    ("utf-32-le", BODY.encode("utf-32-le")),
    ("utf-32-be", BODY.encode("utf-32-be")),
    ("utf-8 with a byte order mark", BODY.encode("utf-8-sig")),
    ("utf-16 after white space", (" " + BODY).encode("utf-16-le")),
])
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
async def test_a_json_body_not_in_utf8_is_refused_whatever_charset_is_said(label, raw, content_type):
    """RFC 8259 §8.1: JSON between systems is UTF-8, without a byte order mark. A body in UTF-16 or
    UTF-32 without a charset (or under charset=utf-8) was taken by every route FastAPI parses:
    `json.loads` of bytes detects the encoding. Failed on the old code: 200."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(_guarded_app()), base_url="http://t") as client:
        response = await client.post("/items", content=raw, headers={"content-type": content_type})
    assert response.status_code == 415, (label, response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM)
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("body", "utf8_charset")]


@pytest.mark.parametrize("headers, status, field, rule", [
    ([("content-type", "text/plain"), ("content-type", "application/json")], 400, "content-type", "single_header"),
    ([("content-type", "application/json; charset=utf-16"), ("content-type", "application/json")], 400,
     "content-type", "single_header"),
    ([("content-type", "application/json"), ("content-encoding", "gzip"), ("content-encoding", "identity")], 415,
     "content-encoding", "identity_encoding"),
])
async def test_a_body_header_sent_twice_is_judged_as_the_framework_reads_it(headers, status, field, rule):
    """The guard judged the last line of a repeated header, the framework reads the first: `text/plain`
    then `application/json` passed the guard and reached the route as text/plain (a 422 about the body);
    `gzip` then `identity` passed as identity. A single field sent twice with different values is a 400
    (RFC 9110 §5.3); the lines of a list field add up (`gzip, identity`: not identity). Failed on the
    old code: 422, 200 and 200."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(_guarded_app()), base_url="http://t") as client:
        response = await client.post("/items", content=BODY.encode(), headers=headers)
    assert response.status_code == status, response.text
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [(field, rule)]
    same_twice = await _post_twice_the_same()
    assert same_twice.status_code == 200, same_twice.text


async def _post_twice_the_same() -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(_guarded_app()), base_url="http://t") as client:
        return await client.post("/items", content=BODY.encode(), headers=[
            ("content-type", "application/json"), ("content-type", "application/json")])


async def test_a_utf8_body_arriving_a_byte_at_a_time_is_read_whole():
    """The guard looks at the body's first bytes, across as many messages as they take, and hands the
    route every byte: a UTF-8 body sent in one-byte chunks is read as sent."""
    app = _guarded_app()
    raw = BODY.encode()
    messages = [{"type": "http.request", "body": raw[i:i + 1], "more_body": i + 1 < len(raw)} for i in range(len(raw))]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/items", "raw_path": b"/items", "query_string": b"", "root_path": "", "server": ("t", 80),
             "client": ("c", 1), "headers": [(b"host", b"t"), (b"content-type", b"application/json"),
                                             (b"transfer-encoding", b"chunked")]}
    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent
    assert json.loads(b"".join(m.get("body", b"") for m in sent[1:])) == {"name": "Åsa"}


# -- HTTP: what the server refuses by itself ------------------------------------------------------------


@contextmanager
def size_echo_server(folder: Path, protocol: str) -> Iterator[int]:
    """uvicorn with one of the kit's protocol classes (`styrkedja_kit.server:<protocol>`, as the services run it)
    and an app that answers 200 with the size of what it got; its port while it runs."""
    (folder / "size_echo_app.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n        return\n"
        "    size, more = 0, True\n"
        "    while more:\n"
        "        message = await receive()\n"
        "        size += len(message.get('body', b''))\n"
        "        more = message.get('more_body', False)\n"
        "    body = str(size).encode()\n"
        "    await send({'type': 'http.response.start', 'status': 200,\n"
        "                'headers': [(b'content-type', b'text/plain'), (b'content-length', str(len(body)).encode())]})\n"
        "    await send({'type': 'http.response.body', 'body': body})\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "size_echo_app:app", "--port", str(port),
                                "--no-access-log", "--no-server-header", "--http",
                                f"styrkedja_kit.server:{protocol}"], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):  # until it listens (or 30 s)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def kit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """uvicorn as the services run it (`--http styrkedja_kit.server:ProblemHttpProtocol`)."""
    with size_echo_server(tmp_path_factory.mktemp("kit_server"), "ProblemHttpProtocol") as port:
        yield port


def _exchange(port: int, pieces: list[bytes], host: str = "127.0.0.1", timeout: float = 10) -> bytes:
    """Send `pieces` (each its own write), then read until the server closes or stops answering."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            for piece in pieces:
                sock.sendall(piece)
        except OSError:  # the server refused before everything was sent and closed
            pass
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
    return answer


def _problem(answer: bytes) -> tuple[int, str, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = dict(line.split(b": ", 1) for line in lines[1:])
    assert headers[b"content-type"] == PROBLEM.encode(), answer[:300]
    assert int(headers[b"content-length"]) == len(body)
    problem = json.loads(body)
    status = int(lines[0].split()[1])
    assert problem["status"] == status and problem["title"] and problem["detail"]
    (error,) = problem["errors"]
    return status, error["field"], error["rule"]


GET = b"GET / HTTP/1.1\r\nHost: h\r\n"
MALFORMED = {
    "a bad request line": ([b"GET /x?" + PIN.encode() + b" HTTP/1.1 extra\r\nHost: h\r\n\r\n"], 400, "request"),
    "not HTTP at all": ([b"\x16\x03\x01\x00\xa5" + PIN.encode() + b"\r\n\r\n"], 400, "request"),
    "a control byte in a header": ([GET + b"X-A: a\x01" + PIN.encode() + b"\r\n\r\n"], 400, "request"),
    "a header name with a space": ([GET + b"X A(: " + PIN.encode() + b"\r\n\r\n"], 400, "request"),
    "HTTP/9.9": ([b"GET / HTTP/9.9\r\nHost: h\r\n\r\n"], 400, "request"),
    "Content-Length and chunked": ([b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"], 400, "request"),
    "a chunk size that is not hex": ([b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"],
                                     400, "request"),
    "the HTTP/2 preface": ([b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"], 400, "request"),
    "a header of 100 kB in one write": ([GET + b"X-A: " + b"a" * 100_000 + b"\r\n\r\n"], 431, "headers"),
    "a header of 4 MB as it streams": ([GET + b"X-A: "] + [b"a" * 65536] * 64 + [b"\r\n\r\n"], 431, "headers"),
    "10,000 headers": ([GET + b"".join(b"X-%d: a\r\n" % i for i in range(10_000)) + b"\r\n"], 431, "headers"),
    "a URL of 100 kB": ([b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: h\r\n\r\n"], 431, "headers"),
}


@pytest.mark.parametrize("label", list(MALFORMED))
def test_what_uvicorn_refuses_by_itself_is_a_problem_naming_the_rule(kit_server, label):
    """uvicorn's own 400 was text/plain ("Invalid HTTP request received."), and its httptools parser took a
    head of any size (a 4 MB header, 10,000 headers: 200 from the app). Now problem+json naming the
    field and the rule, and a 431 for a head over `MAX_HEAD_BYTES`, refused while it streams in; no byte
    of the request repeated. Failed on the old code: no such protocol class, text/plain, or 200."""
    pieces, status, field = MALFORMED[label]
    answer = _exchange(kit_server, pieces)
    rule = "max_header_bytes" if status == 431 else "http_syntax"
    if label == "10,000 headers":  # over both limits (bytes and `MAX_HEADER_COUNT`): either rule names it
        rule = _problem(answer)[2] if _problem(answer)[2] == "max_header_count" else rule
    assert _problem(answer) == (status, field, rule), answer[:300]
    assert PIN.encode() not in answer and b"aaaa" not in answer


def test_every_service_is_started_with_the_kits_protocol():
    """The images and the devstack run uvicorn with it (the k8s manifests use the images' command)."""
    flag = '"--http", "styrkedja_kit.server:ProblemHttpProtocol"'
    dockerfiles = sorted((ROOT / "services").glob("*/Dockerfile"))
    assert len(dockerfiles) == 5
    for dockerfile in dockerfiles:
        assert flag in dockerfile.read_text(), dockerfile
    devstack = (ROOT / "packages/devstack/src/styrkedja_devstack/services.py").read_text()
    assert flag in devstack


# -- files: the SS 12000 folder import, streamed --------------------------------------------------------


def _organisation(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"org-{n}", "displayName": f"Skola {n}", "organisationType": "Skolenhet",
            "schoolUnitCode": f"{10_000_000 + n}", **extra}


def _read(folder: Path) -> list[Any]:
    return FolderSource(folder).read("organisations", None, lambda _entity, _count: None)


def test_a_large_ss12000_folder_file_is_streamed_in_bounded_memory(tmp_path):
    """A folder file was read whole: its bytes, its text and every object of it at once (about three
    times its size, up to the 256 MiB limit). Now each item is validated as it is read: what the
    import holds is the items it keeps, not the file. Failed on the old code: peak 3.1× the file."""
    padding = "x" * 8_000  # a field the importer does not keep (a server's own extensions)
    items = [_organisation(n, extension={"notes": padding, "n": n}) for n in range(4_000)]
    file = tmp_path / "organisations.json"
    file.write_bytes(json.dumps({"data": items, "pageToken": None}).encode())
    size = file.stat().st_size
    assert size > 30_000_000
    tracemalloc.start()
    try:
        read = _read(tmp_path)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [o.id for o in read] == [f"org-{n}" for n in range(4_000)]
    # measured: 0.14 MB beyond the 3.2 MB of items kept, for a file of 32.6 MB (before: 99 MB beyond them)
    assert peak - kept < size / 16, f"peak {peak:,} bytes, {kept:,} kept, for a file of {size:,}"


@pytest.mark.parametrize("label, document, rule", [
    ("an object without data", {"items": [_organisation(1)]}, "expected a list or an object with a 'data' list"),
    ("data that is not a list", {"data": {"item": _organisation(1)}}, "expected a list or an object with a 'data' list"),
    ("data twice", '{"data": [], "data": []}', "'data' twice"),
    ("a key that looks like the data's path", '{"data.item": {"id": "x"}}',
     "expected a list or an object with a 'data' list"),
    ("a pageToken that is not text", {"data": [], "pageToken": 5}, "pageToken must be a string"),
    ("a number at the top", 5, "expected a list or an object with a 'data' list"),
    ("an item that is not an object", [_organisation(1), "x"], "item 1"),
    ("nesting over the limit", b'[{"a": ' + b"[" * 70 + b"]" * 70 + b"}]", "not readable JSON"),
    ("a NUL between tokens", b'{"data": []\x00}', "not readable JSON"),
    ("a personal identity number in a cut file", b'{"data": [{"id": "' + PIN.encode() + b'", "civicNo": "',
     "not readable JSON"),
])
def test_a_streamed_folder_file_is_refused_naming_the_file_and_the_rule(tmp_path, label, document, rule):
    """The refusals of the whole-file reading, now naming the file (they named a page number), and a
    few a stream must tell itself: 'data' twice, a key "data.item", nesting beyond the limit."""
    raw = document if isinstance(document, bytes) else (
        document.encode() if isinstance(document, str) else json.dumps(document).encode())
    (tmp_path / "organisations.json").write_bytes(raw)
    with pytest.raises(SourceError) as raised:
        _read(tmp_path)
    assert "organisations.json" in str(raised.value) and rule in str(raised.value), (label, str(raised.value))
    assert not contains_personal_identity_number(str(raised.value))


def test_a_streamed_folder_file_reads_what_parsing_it_whole_read(tmp_path):
    """Both shapes, pages in a folder, escapes and non-ASCII text, numbers, a character split between two
    reads of the parser: the same items as `json.loads` gives."""
    # two-byte characters across 64 KiB reads: one of the two paddings puts one across each boundary
    items = [_organisation(n, displayName=f"Skola \u00e5\u00e4\u00f6 \\u00e5 {n}",
                           extension="x" * (n % 2) + "\u00e5" * 50_000) for n in range(3)]
    (tmp_path / "organisations").mkdir()
    (tmp_path / "organisations" / "1.json").write_bytes(json.dumps(items[:2], ensure_ascii=False).encode())
    (tmp_path / "organisations" / "2.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(
        {"pageToken": "next", "meta": {"data": [1]}, "data": items[2:]}, ensure_ascii=True).encode())
    read = _read(tmp_path)
    assert [(o.id, o.display_name) for o in read] == [(i["id"], i["displayName"]) for i in items]


def test_the_folder_reads_deleted_entities_by_the_same_rules(tmp_path):
    (tmp_path / "deletedEntities.json").write_bytes(json.dumps(
        {"data": {"organisations": ["org-1", {"id": "org-2"}], "persons": ["p-1"]}}).encode())
    assert FolderSource(tmp_path).deleted(datetime(2026, 1, 1, tzinfo=UTC)) == ["org-1", "org-2"]
    (tmp_path / "deletedEntities.json").write_bytes(b'{"data": {"organisations": ["org-1"')
    with pytest.raises(SourceError, match="not readable JSON"):
        FolderSource(tmp_path).deleted(datetime(2026, 1, 1, tzinfo=UTC))


async def test_a_broker_that_refuses_the_topic_configuration_gets_its_topics_without_it():
    """Detected, not assumed: a broker whose CreateTopics answers "invalid config" for LogAppendTime gets
    the topics with its defaults (and a warning); any other error still stops the start."""
    from types import SimpleNamespace

    from styrkedja_kit.kafka import _create_topics

    class Admin:
        def __init__(self, code: int) -> None:
            self.code, self.asked = code, []

        async def create_topics(self, topics):
            self.asked.append([(t.name, t.topic_configs) for t in topics])
            return SimpleNamespace(topic_errors=[(t.name, self.code if t.topic_configs else 0, None) for t in topics])

    refusing = Admin(40)
    assert await _create_topics(refusing, {"a": 1, "b": 2}, TOPIC_CONFIG) == {"a", "b"}
    assert await _create_topics(refusing, {"a": 1, "b": 2}, None) == set()
    assert refusing.asked == [[("a", TOPIC_CONFIG), ("b", TOPIC_CONFIG)], [("a", {}), ("b", {})]]
    with pytest.raises(RuntimeError, match="error code 29"):
        await _create_topics(Admin(29), {"a": 1}, TOPIC_CONFIG)  # not authorised: not a configuration matter
