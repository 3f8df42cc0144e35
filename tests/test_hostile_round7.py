"""Hostile inputs, seventh round: other Kafka clients, HTTP edges, SS 12000 servers.

- Events from other Kafka clients: librdkafka (and the Java client) compress record batches with snappy,
  lz4 or zstd, which aiokafka reads only with `cramjam` (not installed before): such a batch raised from
  `getmany` on every fetch, the consumer restarted on it for ever, and nothing after it was applied. Now
  cramjam is pinned; a batch the client still cannot decode (a codec it lacks or does not know, bytes that
  do not inflate) is dead-lettered as `undecodable_batch` and passed. A transactional producer's aborted
  records were applied (aiokafka reads `read_uncommitted` by default); the kit's consumers now read
  `read_committed`.
- HTTP: `/path/` was a 307 to `/path` whose Location Starlette built from the Host header (a forged Host sent
  clients, and a POST's body, to another site); now no redirect, a 404 problem. `Expect: 100-continue`, a
  declared length over the limit, 10,000 query parameters: swept, no 5xx.
- SS 12000 (tested in packages/cli/tests/test_ss12000_variations.py): numbers where the specification has text
  or a date are refused naming the field; an empty optional date is absent.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import aiokafka.codec
import httpx
import pytest
from inprocess import auth
from test_hostile_events import applied_ids, encoded, fresh_reporting, good, read_dead_letters, reporting_loop
from test_hostile_round3 import _exchange

from styrkedja_contracts import dead_letter_topic
from styrkedja_kit.db import Database
from styrkedja_kit.kafka import broker_capabilities

confluent_kafka = pytest.importorskip("confluent_kafka")

TOPIC, PUBLISHED = "styrkedja.assessments", "se.styrkedja.assessment.published.v1"
Placed = tuple[str, int, int]


def librdkafka_produce(bootstrap: str, records: list[tuple[bytes | None, bytes | None]], **config: Any
                       ) -> list[Placed]:
    """Each record in a batch of its own (flushed one by one), on partition 0, with librdkafka's headers."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0, **config})
    placed: list[Placed] = []
    failures: list[Any] = []

    def on_delivery(error: Any, message: Any) -> None:
        if error is not None:
            failures.append(error)
        else:
            placed.append((message.topic(), message.partition(), message.offset()))

    for key, value in records:
        producer.produce(TOPIC, key=key, value=value, partition=0, on_delivery=on_delivery,
                         headers=[("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                                  ("content-type", b"application/cloudevents+json")])
        assert producer.flush(60) == 0, "librdkafka could not deliver"
    assert not failures, failures
    return placed


def transactional_produce(bootstrap: str, aborted: list[bytes], committed: list[bytes]) -> list[Placed]:
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "transactional.id": f"t-{uuid.uuid4()}",
                                         "compression.type": "snappy", "linger.ms": 0})
    producer.init_transactions(60)
    placed: list[Placed] = []
    for values, commit in ((aborted, False), (committed, True)):
        producer.begin_transaction()
        for value in values:
            producer.produce(TOPIC, key=b"2999", value=value, partition=0,
                             on_delivery=lambda e, m: placed.append((m.topic(), m.partition(), m.offset())))
        producer.flush(60)
        (producer.commit_transaction if commit else producer.abort_transaction)(60)
    return placed


@pytest.mark.integration
async def test_batches_from_other_clients_are_applied_or_dead_lettered_and_the_pipeline_goes_on(
        infrastructure, monkeypatch):
    """gzip, snappy and zstd batches from librdkafka (with its headers) are applied; an lz4 batch read by a
    client without lz4 (as aiokafka was without cramjam for snappy, lz4 and zstd) is `undecodable_batch`
    and the event after it is applied; a tombstone (no value) is `undecodable`. On a broker that grants
    producer ids (Apache Kafka), a transaction aborted is neither applied nor dead-lettered, one committed
    is applied. Failed on the old code: the consumer stopped at the snappy batch (UnsupportedCodecError on
    every fetch, nothing after it applied), and the aborted events were applied."""
    settings = await fresh_reporting(infrastructure, "round7")
    bootstrap, group = settings.kafka_bootstrap_servers, settings.consumer_group
    by_codec = {codec: good(PUBLISHED) for codec in ("gzip", "snappy", "zstd", "lz4", "none")}
    placed = {codec: librdkafka_produce(bootstrap, [(b"2999", encoded(by_codec[codec]))],
                                        **{"compression.type": codec})[0]
              for codec in ("gzip", "snappy", "zstd", "lz4")}
    placed["tombstone"] = librdkafka_produce(bootstrap, [(b"2999", None)])[0]
    placed["none"] = librdkafka_produce(bootstrap, [(b"2999", encoded(by_codec["none"]))])[0]
    wanted = {uuid.UUID(by_codec[c]["id"]) for c in ("gzip", "snappy", "zstd", "none")}
    hostile = {placed["lz4"]: "undecodable_batch", placed["tombstone"]: "undecodable"}
    left_out = {uuid.UUID(by_codec["lz4"]["id"])}
    transactional = (await broker_capabilities(settings)).idempotent_producer
    if transactional:  # Tansu, the embedded broker, grants no producer id: no transactions there
        aborted, committed = [good(PUBLISHED) for _ in range(2)], [good(PUBLISHED)]
        transactional_produce(bootstrap, [encoded(d) for d in aborted], [encoded(d) for d in committed])
        wanted |= {uuid.UUID(d["id"]) for d in committed}
        left_out |= {uuid.UUID(d["id"]) for d in aborted}

    monkeypatch.setattr(aiokafka.codec, "has_lz4", lambda: False)  # a client that lacks a codec
    database = Database(settings.database_url, pool_size=3)
    loop = reporting_loop(settings, database, [TOPIC])
    task = asyncio.create_task(loop.run())
    applied: set[uuid.UUID] = set()
    try:
        dead = await read_dead_letters(bootstrap, dead_letter_topic(group), set(hostile), timeout=90)
        applied = await applied_ids(database, group, wanted)
        assert not task.done(), "the consumer loop stopped"
    finally:
        loop.stop()
        await task
        await database.dispose()
    assert wanted <= applied, f"not applied: {wanted - applied}"
    assert not applied & left_out, "an undecodable or aborted event was applied"
    letters = {place: headers for place, headers, _ in dead if place[:2] == (TOPIC, 0)}
    for place, reason in hostile.items():
        assert letters[place]["dlq.reason"] == reason, (place, letters.get(place))
    assert letters[placed["lz4"]]["dlq.message"].startswith(
        f"the record batch at offsets {placed['lz4'][2]}..{placed['lz4'][2]} (compression lz4) cannot be decoded")
    ours = {placed[c] for c in by_codec} | set(hostile)
    assert set(letters) & ours == set(hostile), "an event of another codec (or an aborted one) was dead-lettered"


# -- HTTP edges -------------------------------------------------------------------------------------------------


def _raw(url: str, data: bytes, timeout: float = 10) -> bytes:
    parts = urlsplit(url)
    return _exchange(parts.port or 80, [data], host=parts.hostname or "127.0.0.1", timeout=timeout)


def _paths(url: str, headers: dict[str, str]) -> list[tuple[str, str]]:
    spec = httpx.get(f"{url}/openapi.json", headers=headers, timeout=30).json()
    return [(method.upper(), re.sub(r"\{[^}]+\}", "2999", path)) for path, item in spec["paths"].items()
            for method in item if method in ("get", "post", "put", "delete")
            and path not in ("/readyz", "/metrics")]  # readyz asks the broker, which postgres_only tests have not


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_trailing_slash_is_a_404_problem_never_a_redirect_built_from_the_host_header(running, token_issuer):
    """Failed on the old code: `GET /healthz/` with `Host: evil.example` was a 307 to http://evil.example/healthz,
    and so was every route (POST included: a 307 keeps the method and the body)."""
    _, service = running
    headers = auth(token_issuer)
    wrong = []
    with httpx.Client(base_url=service.url, headers=headers, timeout=60, follow_redirects=False) as client:
        for method, path in _paths(service.url, headers):
            for odd in (path + "/", path + "//", "/" + path):
                answer = client.request(method, odd, headers={"host": "evil.example", "content-type": "application/json"},
                                        content=b"{}" if method in {"POST", "PUT", "PATCH"} else None)
                if answer.status_code != 404 or "location" in answer.headers or \
                        answer.headers.get("content-type") != "application/problem+json":
                    wrong.append(f"{method} {odd}: {answer.status_code} {answer.headers.get('location')}")
    assert not wrong, wrong[:10]


@pytest.mark.integration
@pytest.mark.postgres_only
def test_expect_continue_and_ten_thousand_query_parameters_never_get_a_5xx(running, token_issuer):
    """`Expect: 100-continue` with a body in limits: 100 Continue, then the route's answer; with a declared length
    over the body limit: 413 at once, no 100 Continue (the body is never asked for). 10,000 query parameters
    (what fits in the head): answered, no 5xx."""
    _, service = running
    headers = auth(token_issuer)
    token = headers["Authorization"].encode()
    wrong = []
    for method, path in _paths(service.url, headers):
        head = f"{method} {path} HTTP/1.1\r\nHost: h\r\n".encode() + b"Authorization: " + token + b"\r\n"
        if method != "GET":
            body = b'{"a": 1}'
            answer = _raw(service.url, head + b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                          b"Content-Length: 8\r\nConnection: close\r\n\r\n" + body)
            statuses = [int(line.split()[1]) for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
            if not statuses or not 200 <= statuses[-1] < 500:  # a route that takes any body may say 200
                wrong.append(f"{method} {path} expect: {statuses}")
            answer = _raw(service.url, head + b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                          b"Content-Length: 999999999\r\nConnection: close\r\n\r\n", timeout=5)
            if not answer.startswith(b"HTTP/1.1 413 "):
                wrong.append(f"{method} {path} expect over the limit: {answer[:40]!r}")
            else:
                assert json.loads(answer.partition(b"\r\n\r\n")[2])["errors"][0]["field"] == "body"
        else:
            many = b"&".join(b"a=%d" % (n % 10) for n in range(10_000))
            answer = _raw(service.url, head.replace(b" HTTP/1.1", b"?" + many + b" HTTP/1.1", 1)
                          + b"Connection: close\r\n\r\n")
            status = int(answer.split()[1]) if answer.startswith(b"HTTP/1.1 ") else 0
            if not 200 <= status < 500:
                wrong.append(f"{method} {path} 10,000 parameters: {answer[:60]!r}")
    assert not wrong, wrong[:10]


def test_the_dashboard_never_redirects_a_trailing_slash_to_the_host_a_request_named():
    """Failed on the old code: `/larm/` with Host evil.example was a 307 to http://evil.example/larm."""
    from fastapi.testclient import TestClient

    from styrkedja_dashboard.app import create_app
    from styrkedja_dashboard.settings import DashboardSettings

    with TestClient(create_app(DashboardSettings()), base_url="http://evil.example") as client:
        for path in ("/larm/", "/lika/", "/kedjan//", "/healthz/"):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 404 and "location" not in answer.headers, (path, answer.headers)
        assert client.get("/healthz").status_code == 200
