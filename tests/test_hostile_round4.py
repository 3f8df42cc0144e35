"""Hostile inputs, fourth round: the gaps round 3 left open, and a fresh hunt, each fixed at its general rule.

- Rebuild: a duplicate re-sent as other JSON (key order, spacing, escapes) was a `conflicting_duplicate` to
  the rebuild (it compared the records' bytes in SQL) but an ordinary duplicate to the live consumer (the
  kit's `same_content`); now the rebuild judges the few whose bytes differ by the same function.
- Broker: topics that existed before the kit made its topics with `message.timestamp.type=LogAppendTime`
  kept CreateTime; now `ensure_topics` alters them (IncrementalAlterConfigs, where the broker lists it).
- HTTP: uvicorn's h11 parser (the fallback where httptools is missing) let a control byte in a header
  through to the app; now the kit's h11 protocol refuses it as the httptools one does. The kit's protocol
  classes lean on uvicorn internals: a test names each one, so an upgrade that moves them fails here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from sqlalchemy import select
from test_hostile_events import encoded, good
from test_hostile_round3 import GET, MALFORMED, _exchange, _problem, size_echo_server

from styrkedja_contracts import dead_letter_topic, decode_event
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_kit.auth.tokens import InvalidToken, TokenVerifier
from styrkedja_kit.db import Database
from styrkedja_kit.kafka import TOPIC_CONFIG, broker_capabilities, ensure_topics, registry_topics
from styrkedja_kit.server import (
    MAX_HEAD_BYTES,
    ProblemH11Protocol,
    ProblemHttpProtocol,
    ProblemHttpToolsProtocol,
    _ProblemAnswers,
)
from styrkedja_kit.settings import ServiceSettings
from styrkedja_reporting.persistence import metadata
from styrkedja_reporting.rebuild.command import run
from styrkedja_reporting.settings import ReportingSettings
from support import other_form

PIN = "19121212-1212"
PROBLEM = "application/problem+json"
UNIT = "se.styrkedja.organisation.unit_upserted.v1"
ROOT = Path(__file__).resolve().parents[1]


async def _all_records(bootstrap: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        records: list[Any] = []
        empty = 0
        while empty < 3:  # until three fetches in a row bring nothing
            batch = await consumer.getmany(timeout_ms=1000)
            empty = 0 if batch else empty + 1
            for part in batch.values():
                records += part
        return records
    finally:
        await consumer.stop()


# -- rebuild: a duplicate in other JSON ------------------------------------------------------------


async def rebuild_takes_one_event_and_one_conflict(
        infrastructure: Any, label: str, sends: Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], list[bytes]]
) -> None:
    """The rebuild fed `sends(first, document, changed)` — one event in several JSON forms, then another content
    under its id (`changed`, last) — applies the event once and dead-letters only the other content, the first
    counting (also round 23b's)."""
    bootstrap = infrastructure.kafka_bootstrap_servers
    group = f"{label}-rebuild-{uuid.uuid4().hex[:8]}"
    settings = ReportingSettings(database_url=migrated_database(infrastructure, "styrkedja_reporting"),
                                 kafka_bootstrap_servers=bootstrap, consumer_group=group, outbox_enabled=False,
                                 consumer_enabled=False)
    first = good(UNIT)
    first["data"] = {**first["data"], "unit_id": f"{label}-{uuid.uuid4().hex[:8]}", "name": "Åsens skola"}
    document = json.loads(decode_event(encoded(first)).to_bytes())  # as every outbox sends it
    changed = {**document, "data": {**document["data"], "name": "Ett annat namn"}}
    await ensure_topics(settings, registry_topics())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in sends(first, document, changed):
            await producer.send_and_wait("styrkedja.organisation", value, key=document["data"]["organiser_id"].encode())
    finally:
        await producer.stop()

    summary = await run(settings, say=lambda _line: None)
    assert summary["conflicting_duplicates"] >= 1
    ours = [r for r in await _all_records(bootstrap, dead_letter_topic(group))
            if document["id"].encode() in (r.value or b"") or document["id"] in (r.value or b"").decode("utf-8", "replace")]
    assert [dict(r.headers)["dlq.reason"] for r in ours] == [b"conflicting_duplicate"], ours
    assert json.loads(ours[0].value)["data"]["name"] == "Ett annat namn"
    database = Database(settings.database_url, pool_size=1)
    try:
        units = metadata.tables["directory_units"]
        async with database.sessions() as session:
            names = (await session.execute(select(units.c.name).where(
                units.c.unit_id == document["data"]["unit_id"]))).scalars().all()
        assert names == ["Åsens skola"]  # the first counts
    finally:
        await database.dispose()


@pytest.mark.integration
async def test_the_rebuild_judges_a_duplicate_in_other_json_as_the_live_consumer_does(infrastructure):
    """The live consumer calls the same event re-sent as other JSON an ordinary duplicate (round 3); the rebuild
    compared the records' bytes and dead-lettered it as a `conflicting_duplicate`. Failed on the old code: both
    re-sends in the rebuild's dead-letter topic. Another content under the id is still a conflict, and the
    first counts."""
    await rebuild_takes_one_event_and_one_conflict(
        infrastructure, "hostile4", lambda first, document, changed: [
            decode_event(encoded(first)).to_bytes(), other_form(document), encoded(document), encoded(changed)])
    await asyncio.sleep(0)


# -- broker: topics that existed before LogAppendTime -------------------------------------------------


async def _timestamp_type(bootstrap: str, topic: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                                   {"message.timestamp.type": None})])
        return {entry[0]: entry[1] for entry in response.resources[0][4]}["message.timestamp.type"]
    finally:
        await admin.close()


@pytest.mark.integration
async def test_a_topic_made_before_logappendtime_is_altered_to_it_where_the_broker_can(infrastructure):
    """Round 3 made new topics with LogAppendTime; a topic that existed before (made by an older release, by a
    producer's auto-creation, by hand) kept CreateTime, and a producer's timestamp dated its events. Now
    `ensure_topics` alters it (IncrementalAlterConfigs: its other settings stay). Asked of the broker: Apache
    Kafka takes it; the embedded broker takes the request and keeps its own, and nothing fails. Failed on the old
    code on Apache Kafka: CreateTime after `ensure_topics`."""
    bootstrap = infrastructure.kafka_bootstrap_servers
    settings = ServiceSettings(kafka_bootstrap_servers=bootstrap)
    topic = f"hostile4-old-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:  # as a release before round 3 made it, with a setting of its own that must survive
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1,
                                            topic_configs={"retention.ms": "86400000"})])
    finally:
        await admin.close()
    await ensure_topics(settings, [(topic, 2)])
    await ensure_topics(settings, [(topic, 2)])  # once more: nothing to do, nothing fails
    if (await broker_capabilities(settings)).durable_logs:  # Apache Kafka
        assert await _timestamp_type(bootstrap, topic) == "LogAppendTime"
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                                       {"retention.ms": None})])
            assert response.resources[0][4][0][1] == "86400000"  # incremental: the topic's own setting kept
            (described,) = await admin.describe_topics([topic])
            assert len(described["partitions"]) == 2
        finally:
            await admin.close()


async def test_a_broker_without_incremental_alter_configs_only_gets_a_warning(caplog):
    """Detected, not assumed: a broker that does not list the API (aiokafka refuses to send it), or refuses the
    alteration (no right to it), leaves the start going, with a warning that names no record."""
    from types import SimpleNamespace

    from aiokafka.errors import IncompatibleBrokerVersion

    from styrkedja_kit.kafka import IncrementalAlterConfigsRequest, _align_topic_config

    class Admin:
        def __init__(self, answer: Any) -> None:
            self.answer, self.sent = answer, []

        async def describe_configs(self, resources):
            return [SimpleNamespace(resources=[(0, None, 2, r.name, [("message.timestamp.type", "CreateTime")])
                                               for r in resources])]

        async def _send_request(self, request):
            self.sent.append(request)
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

    missing = Admin(IncompatibleBrokerVersion("IncrementalAlterConfigsRequest cannot be used"))
    assert await _align_topic_config(missing, ["a"], TOPIC_CONFIG) == []  # type: ignore[arg-type]
    refusing = Admin(SimpleNamespace(responses=[(29, "denied", 2, "a"), (0, None, 2, "b")]))
    assert await _align_topic_config(refusing, ["a", "b"], TOPIC_CONFIG) == ["a", "b"]  # type: ignore[arg-type]
    (request,) = refusing.sent
    assert isinstance(request, IncrementalAlterConfigsRequest)
    struct = request.prepare({44: (0, 1)})
    assert struct.to_object()["resources"] == [
        {"resource_type": 2, "resource_name": name, "configs": [
            {"name": "message.timestamp.type", "config_operation": 0, "value": "LogAppendTime"}]}
        for name in ("a", "b")]
    with pytest.raises(IncompatibleBrokerVersion):
        request.prepare({})
    assert "could not align" in caplog.text and "refused to alter" in caplog.text


# -- HTTP: the h11 fallback, and the uvicorn internals the kit's protocol classes lean on ----------------------


@pytest.fixture(scope="module", params=["ProblemH11Protocol", "ProblemHttpProtocol"])
def protocol_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """uvicorn with the kit's protocol class: h11's (uvicorn's fallback where httptools is missing) and the one
    the services run (httptools')."""
    with size_echo_server(tmp_path_factory.mktemp("protocol_server"), request.param) as port:
        yield port

CONTROL = {
    "a DEL in a header": ([GET + b"X-A: a\x7fb\r\n\r\n"], 400, "request"),
    "an escape in a header": ([GET + b"X-A: \x1b[31mred\r\n\r\n"], 400, "request"),
    "a vertical tab in a header": ([GET + b"X-A: a\x0bb\r\n\r\n"], 400, "request"),
    "a control byte in the URL": ([b"GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n"], 400, "request"),
    "a control byte in the Authorization header": ([GET + b"Authorization: Bearer a\x08b\r\n\r\n"], 400, "request"),
}


@pytest.mark.parametrize("label", [*MALFORMED, *CONTROL])
def test_what_uvicorn_refuses_is_a_problem_under_either_parser(protocol_server, label):
    """Round 3 judged the httptools protocol only. uvicorn's h11 protocol (taken where httptools is not installed)
    let a control byte in a header through to the app (h11 takes any byte but NUL and whitespace), answered a
    head over 16 KiB with 400 instead of 431, and one under the kit's 64 KiB too. Now both parsers answer every
    case alike. Failed on the old code under h11: 200 for the control bytes, 400 for the heads of 100 kB."""
    pieces, status, field = {**MALFORMED, **CONTROL}[label]
    answer = _exchange(protocol_server, pieces)
    rule = "max_header_bytes" if status == 431 else "http_syntax"
    if label == "10,000 headers":  # over both limits (bytes and `MAX_HEADER_COUNT`): either rule names it
        rule = _problem(answer)[2] if _problem(answer)[2] == "max_header_count" else rule
    assert _problem(answer) == (status, field, rule), answer[:300]
    assert PIN.encode() not in answer and b"aaaa" not in answer


def test_ordinary_requests_pass_either_parser(protocol_server):
    """What stays within the rules passes: obs-text (UTF-8) and a tab in a value, a head just under the limit,
    a large body, two requests on one connection."""
    tab = _exchange(protocol_server, [GET + "X-A: a\tb Åsa\r\nConnection: close\r\n\r\n".encode()])
    assert tab.startswith(b"HTTP/1.1 200"), tab[:200]
    near = GET + b"X-A: " + b"a" * (MAX_HEAD_BYTES - 200) + b"\r\nConnection: close\r\n\r\n"
    assert _exchange(protocol_server, [near]).startswith(b"HTTP/1.1 200")
    body = b"x" * 300_000
    answer = _exchange(protocol_server, [b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                                         % len(body) + body])
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"300000"), answer[:200]
    pipelined = _exchange(protocol_server, [GET + b"\r\n" + GET + b"Connection: close\r\n\r\n"])
    assert pipelined.count(b"HTTP/1.1 200") == 2, pipelined


def test_the_uvicorn_internals_the_kits_protocols_lean_on_are_where_they_were():
    """`styrkedja_kit.server` subclasses uvicorn's protocol classes and overrides methods uvicorn does not
    document: an upgrade that renames or stops calling one would silently bring back plain-text 400s, heads of
    any size or control bytes. Each hook, by name and by the call uvicorn makes to it; fails loudly if one moved."""
    import inspect

    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    h11_source = inspect.getsource(H11Protocol)
    # the 400 hook, called when h11 refuses; `self.conn` made in __init__ and read by `handle_events`
    assert "except h11.RemoteProtocolError" in h11_source and "self.send_400_response(" in h11_source
    assert "self.conn = h11.Connection(" in inspect.getsource(H11Protocol.__init__)
    assert "self.conn.next_event()" in inspect.getsource(H11Protocol.handle_events)
    assert "self.conn.receive_data(" in inspect.getsource(H11Protocol.data_received)
    tools_source = inspect.getsource(HttpToolsProtocol)
    for hook in ("on_url", "on_header", "on_headers_complete", "on_message_complete", "data_received",
                 "send_400_response"):
        assert callable(getattr(HttpToolsProtocol, hook, None)), hook
    # httptools calls the parser callbacks on the protocol (`HttpRequestParser(self)`); a parser error -> the 400
    assert "httptools.HttpRequestParser(self)" in tools_source
    assert "except httptools.HttpParserError" in tools_source and "self.send_400_response(" in tools_source
    for cls in (ProblemH11Protocol, ProblemHttpToolsProtocol):
        assert cls.send_400_response is _ProblemAnswers.send_400_response  # ours, first in the MRO
    assert ProblemHttpProtocol is ProblemHttpToolsProtocol  # httptools is installed (requirements/lock.txt)


def test_the_figures_bench_starts_uvicorn_with_the_kits_protocol():
    """bench/figures_read.py started uvicorn without `--http`: its figures were of uvicorn's own protocol,
    not the services'. Both its variants now name the kit's (h11's for the `-h11` variant)."""
    source = (ROOT / "bench/figures_read.py").read_text()
    assert '["--http", f"styrkedja_kit.server:{protocol}"]' in source
    assert '"ProblemH11Protocol" if variant.endswith("-h11") else "ProblemHttpProtocol"' in source


# -- JWT: what an issuer (or a key it lost) could sign --------------------------------------------------------


class _OneKey:
    """A KeySource with one RSA key, `k1`, of the issuer `ISSUER`."""

    issuer = "https://issuer.example"

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwk = jwt.PyJWK.from_dict({**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key())),
                                        "kid": "k1"})

    async def key(self, kid: str) -> jwt.PyJWK | None:
        return self.jwk if kid == "k1" else None

    def signed(self, payload: bytes, header: dict[str, Any] | None = None) -> str:
        """`payload` as it is (any JSON text, or none) under a valid signature."""
        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        head = json.dumps(header or {"alg": "RS256", "kid": "k1", "typ": "JWT"}).encode()
        signing_input = f"{b64(head)}.{b64(payload)}".encode()
        signature = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).sign(signing_input, self.private)
        return f"{signing_input.decode()}.{b64(signature)}"


def _claims(now: int, **replaced: bytes) -> bytes:
    """The claims of a good token, with some values replaced by raw JSON text (1e400, NaN, a 400-digit number)."""
    values = {"iss": b'"https://issuer.example"', "aud": b'"styrkedja"', "sub": b'"u-1"', "iat": b"%d" % now,
              "exp": b"%d" % (now + 300), **replaced}
    return b"{" + b", ".join(b'"%s": %s' % (k.encode(), v) for k, v in values.items()) + b"}"


@pytest.mark.parametrize("label, replaced, description", [
    ("exp of 400 digits", {"exp": b"1" + b"0" * 400}, "NumericDate"),
    ("exp of 2**70 (never expires)", {"exp": b"%d" % 2**70}, "NumericDate"),
    ("exp 1e308", {"exp": b"1e308"}, "NumericDate"),
    ("exp as a string", {"exp": b'"9999999999"'}, "NumericDate"),
    ("nbf of 400 digits", {"nbf": b"1" + b"0" * 400}, "not yet valid"),
    ("iat negative", {"iat": b"-1"}, "NumericDate"),
    ("exp Infinity", {"exp": b"Infinity"}, "claims invalid"),
    ("exp NaN", {"exp": b"NaN"}, "claims invalid"),
    ("nbf 1e400", {"nbf": b"1e400"}, "claims invalid"),
    ("iat in the future", {"iat": b"%d" % (int(time.time()) + 10**6)}, "not yet valid"),
    ("exp true", {"exp": b"true"}, "expired"),
    ("exp twice, the last in the past", {"exp": b'%d, "exp": 1' % (int(time.time()) + 300)}, "expired"),
    ("aud nested", {"aud": b'[["styrkedja"]]'}, "audience"),
    ("iss as a list", {"iss": b'["https://issuer.example"]'}, "issuer"),
    ("sub an object", {"sub": b'{"id": "u-1"}'}, "claims invalid"),
])
async def test_a_signed_token_with_odd_dates_or_claims_is_a_401_never_a_500(label, replaced, description):
    """The signature is right (an issuer's bug, or a key it lost): every claim is still judged. An `exp` of
    400 digits passed PyJWT (it reads any integer) and overflowed the verified-token cache: a 500 for every
    request with it; an `exp` of 2**70 or 1e308 or "9999999999" (a string) was a token that never expires.
    Failed on the old code: OverflowError, and four tokens accepted."""
    keys = _OneKey()
    verifier = TokenVerifier(keys, audience="styrkedja", algorithms=["RS256"])  # type: ignore[arg-type]
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify(keys.signed(_claims(int(time.time()), **replaced)))
    assert description in refused.value.description, label


@pytest.mark.parametrize("label, header, description", [
    ("alg none", {"alg": "none", "kid": "k1"}, "algorithm not allowed"),
    ("HS256 (the public key as the secret)", {"alg": "HS256", "kid": "k1"}, "algorithm not allowed"),
    ("ES256 with the RSA key", {"alg": "ES256", "kid": "k1"}, "does not match"),
    ("alg as a list", {"alg": ["RS256"], "kid": "k1"}, "algorithm not allowed"),
    ("kid as a list", {"alg": "RS256", "kid": ["k1"]}, "malformed"),
    ("kid a path", {"alg": "RS256", "kid": "../../k1"}, "unknown key id"),
    ("kid empty", {"alg": "RS256", "kid": ""}, "no key id"),
    ("an unknown critical extension", {"alg": "RS256", "kid": "k1", "crit": ["x"], "x": 1}, "malformed"),
    ("an unencoded payload (b64 false)", {"alg": "RS256", "kid": "k1", "b64": False, "crit": ["b64"]}, "malformed"),
])
async def test_a_token_header_trick_is_refused(label, header, description):
    """What a forger controls without the key: the header. The `jku`/`x5u` a header may name are never
    fetched (the keys come from the issuer's discovery document only), and a token naming one is refused."""
    keys = _OneKey()
    verifier = TokenVerifier(keys, audience="styrkedja", algorithms=["RS256", "ES256"])  # type: ignore[arg-type]
    now = int(time.time())
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify(keys.signed(_claims(now), header))
    assert description in refused.value.description, label
    fetched = keys.signed(_claims(now), {"alg": "RS256", "kid": "k1", "jku": "http://127.0.0.1:9/jwks"})
    with pytest.raises(InvalidToken, match="jku is not accepted"):
        # never fetched, and since round 35 no longer taken with the issuer's key either: a proxy in front of a
        # service that did trust a header's key URL must not be handed such a token
        await verifier.verify(fetched)
    assert (await verifier.verify(keys.signed(_claims(now), {"alg": "RS256", "kid": "k1"})))["sub"] == "u-1"
    with pytest.raises(InvalidToken, match="too large"):
        await verifier.verify("e" * 20_000)


# -- the dashboard's calls to the services: path traversal ----------------------------------------------------


async def test_the_dashboard_never_sends_a_path_a_value_could_steer():
    """`/ladda-ner/rapportering-enhet.csv?organiser_id=2999&school_unit_code=..` filled reporting's path with
    `..` (the route's pattern allows dots) and httpx resolved it: the user's token went to
    `/v1/compliance/organisers/2999`, outside the tables the route names. Now every path the dashboard sends
    is checked once (`clients.Api`): a `.`/`..` segment or a character no segment holds is a 422, never sent.
    Failed on the old code: the request went out to the resolved path."""
    from starlette.requests import Request

    from styrkedja_dashboard.clients import Api, UpstreamError
    from styrkedja_dashboard.exports.routes import upstream_query

    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={"ok": True})

    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [],
                       "query_string": b"organiser_id=2999&school_unit_code=..&school_year=2026/27"})
    path, _ = upstream_query("rapportering-enhet", request, organisers={"2999"})
    assert path == "/v1/compliance/organisers/2999/school-units/.."  # what the route fills in
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        api = Api(http, "reporting", "http://reporting", "token")
        for steered in (path, "/v1/compliance/organisers/../school-units/../items", "/v1/self-assessments/./x",
                        "/v1/figures/trend?level=organiser", "/v1/figures/%2e%2e", "/v1/a b", "/v1/a\\b",
                        "/v1/catalogue/", "/v1//x", "/v1/x#y", "/v1/\u0130"):
            with pytest.raises(UpstreamError) as refused:
                await api.download(steered)
            assert refused.value.status == 422, steered
        assert sent == []
        for ordinary in ("/v1/figures/gender-gap", "/v1/compliance/organisers/2999/school-units/29990011/items",
                         "/v1/self-assessments/0f8fad5b-d9cb-469f-a165-70867728950e/action-plan",
                         "/v1/catalogue/2024.1"):
            assert await api.get(ordinary) == {"ok": True}
    assert len(sent) == 4


@pytest.mark.integration
@pytest.mark.postgres_only
def test_the_services_under_test_run_the_kits_protocol(running):
    """The OpenAPI fuzz and the hostile-request tests ran the services under uvicorn's default protocol, not the
    kit's the images and the devstack start them with: what uvicorn refuses by itself was judged by a plain-text
    400 that `test_hostile_http` had to allow. Now the in-process services run the kit's protocol, and that
    allowance is gone. Failed on the old code: text/plain."""
    name, service = running
    port = int(service.url.rsplit(":", 1)[1])
    for raw in (b"FOO /v1/x HTTP/1.1\r\nHost: h\r\n\r\n", GET + b"X-A: a\x01" + PIN.encode() + b"\r\n\r\n"):
        answer = _exchange(port, [raw])
        assert _problem(answer) == (400, "request", "http_syntax"), (name, answer[:300])
        assert PIN.encode() not in answer


# -- exports: text in a column of another type, and the headers ---------------------------------------------


def test_text_in_a_column_of_another_type_is_never_a_formula_nor_a_500(tmp_path):
    """The exports renderer made a cell safe only in a column typed text: a string in a column typed as a number
    (a value a school platform sent where a count was expected, or a header built from data) went out as it was
    in CSV (`=HYPERLINK(…)` a live formula) and made the xlsx writer raise (TypeError: a 500 mid-download). Now
    every text cell and header is text, whatever its column's type; numbers stay numbers (a negative one too).
    Failed on the old code: the formula in the CSV, TypeError from the xlsx."""
    import openpyxl

    from styrkedja_reporting.exports.render import CsvEncoder, XlsxSink
    from styrkedja_reporting.exports.table import Column, ColumnType, Table

    columns = [Column("name", "=HYPERLINK(\"https://evil.example\")"), Column("n", "Antal", ColumnType.integer),
               Column("share", "Andel", ColumnType.share)]
    rows = [["@SUM(A1)", "=1+1", -0.25], ["Åsens skola", 12, 0.5], ["-3", "+46 70", None]]
    encoder = CsvEncoder(columns)
    text = (encoder.head() + b"".join(encoder.row(r) for r in rows)).decode("utf-8-sig")
    cells = [cell for line in text.splitlines() for cell in line.split(";")]
    assert not [c for c in cells if c.strip('"')[:1] in "=+@\t\r" and c.strip('"')], text
    assert "-0,25" in text and ";12;" in text  # numbers as numbers, negative ones too
    path = str(tmp_path / "t.xlsx")
    sink = XlsxSink(Table("t", columns, []), path)
    for row in rows:
        sink.add(row)
    sink.close()
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    values = [cell for row in sheet.iter_rows() for cell in row]
    assert all(c.data_type != "f" for c in values)
    assert [c.value for c in values if isinstance(c.value, str) and c.value[:1] in "=+@-"] == [
        "=HYPERLINK(\"https://evil.example\")", "@SUM(A1)", "=1+1", "-3", "+46 70"]
