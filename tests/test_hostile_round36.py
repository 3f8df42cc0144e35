"""Hostile round 36: the envelope's free text and its producer's URI; the SS 12000 import's last unbounded waits and
its pages on disk.

Found and mended (session 35's leftovers):

- The CloudEvents envelope took a `subject` holding a zero-width space, a joiner, a BOM, a soft hyphen, a direction
  mark, a tag character, a line or paragraph separator, a private-use or unassigned code point, or a word of Latin
  letters with a Cyrillic or Greek look-alike among them (`ass\u0435ssment`); and a `source` of any non-space
  characters (`/bedömning`, a Cyrillic `/аssessment`, `/a|b`), which RFC 3986 (CloudEvents: a URI-reference) does not
  allow unencoded, its percent-encoded text unread (`%31%39…` a personnummer). No consumer reads either, but both
  reach the dead letters, the logs and an operator's terminal as they came. Now `invalid_envelope` naming the
  attribute and the rule (`no_invisible_characters`, `no_unassigned_characters`, `no_mixed_scripts`,
  `uri_reference`, and the text rules of the decoded `source`), in the contracts' one decision (`Envelope`'s
  validators, the decode's fast path by the same rule: `fastpath`), so the live consumer and the rebuild dead-letter
  such an event alike; a door whose event the envelope refuses answers 422 naming the rule
  (`ContractError.rules`); a dead letter's bytes are redacted of a personnummer behind percent-encoding too. The
  envelope's schema keeps its published pattern (a tightened rule is a validation change: `check --history`).
- The SS 12000 import's connection to reporting (`--reporting-url`) had each read bounded (120 s) but no answer: one
  trickling a header line a minute (a proxy, a stub) held the import as long as it chose. Now each answer must be in
  whole within `REPORTING_ANSWER_SECONDS` (600 s), then the import stops naming reporting, its URL and the wait.
- A proxy from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`) got a transport of httpx's own, whose
  connections kept the per-read timeouts alone: a page trickling through it held the import past `--page-seconds`.
  Now every transport of the client reads by the page's deadline (`deadline.bound`).
- A page of anything but persons over 4 MiB waited in a temporary file while parsed: a civic number typed into any
  entity's free text (a group's name) touched the disk. Now every page is held in memory (at most `--max-page-mib`,
  at most 4 GiB), never written to a file; a page the machine cannot hold stops the import naming the page and the
  flag.

A fresh angle: the import behind a proxy from the environment (no round looked at one). Besides the deadline above,
a proxy that could not be reached was said as the SS 12000 server's fault ("no connection to --url's host and
port"), a proxy refusing an https source's tunnel as a bare "ProxyError", and a proxy's own 407 to an http source's
request as the server's HTTP 407. Now each names the proxy — as `scheme://host:port`, never the user name and
password its URL may hold — and where it came from; of a refused tunnel the status code alone (the proxy's reason
phrase is its own text).
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import ConsumerRecord
from ss12000_sockets import SocketServer, answer, trickled

from styrkedja_contracts import ContractError, decode_event, example_bytes
from styrkedja_contracts.envelope import decode_plain

PUBLISHED = "se.styrkedja.assessment.published.v1"
TOPIC = "styrkedja.assessments"
#: the records' time, after the example's (an event's time must not lie far ahead of its record's)
RECORD_TIME = 1_796_083_200_000  # 2026-12-01T00:00:00Z

#: what the envelope took before round 36: (what, the attribute, its value, the rule named)
ENVELOPES = [
    ("zero-width space in subject", "subject", "7A\u200belev", "no_invisible_characters"),
    ("word joiner in subject", "subject", "7A\u2060elev", "no_invisible_characters"),
    ("BOM in subject", "subject", "\ufeff7A", "no_invisible_characters"),
    ("soft hyphen in subject", "subject", "assess\u00adment", "no_invisible_characters"),
    ("right-to-left mark in subject", "subject", "7A\u200f", "no_invisible_characters"),
    ("tag character in subject", "subject", "7A\U000e0041", "no_invisible_characters"),
    ("line separator in subject", "subject", "7A\u2028forged line", "no_invisible_characters"),
    ("paragraph separator in subject", "subject", "7A\u2029forged line", "no_invisible_characters"),
    ("private use in subject", "subject", "7A\ue000", "no_unassigned_characters"),
    ("unassigned code point in subject", "subject", "7A\u0378", "no_unassigned_characters"),
    ("Cyrillic look-alike in a Latin word of subject", "subject", "ass\u0435ssment", "no_mixed_scripts"),
    ("Greek look-alike in a Latin word of subject", "subject", "\u03bfrganiser", "no_mixed_scripts"),
    ("Latin-1 letter in source (plain text: the fast path)", "source", "/bedömning", "uri_reference"),
    ("Cyrillic look-alike in source", "source", "/\u0430ssessment", "uri_reference"),
    ("zero-width space in source", "source", "/assessment\u200b", "uri_reference"),
    ("a character RFC 3986 does not allow in source", "source", "/a|b", "uri_reference"),
    ("a broken percent-encoding in source", "source", "/a%zz", "uri_reference"),
    ("personnummer percent-encoded in source", "source", "/elev/%31%39%31%32%31%32%31%32%2D%31%32%31%32",
     "no_personal_identity_number"),
    ("right-to-left override percent-encoded in source", "source", "/a%E2%80%AEb", "no_control_characters"),
]
#: taken before and after: other scripts, whole words of one script, RFC 3986's characters, percent-encoded UTF-8
TAKEN = [("subject", "Школа 7А"), ("subject", "学校 7A"), ("subject", "Skolenhet Åby/7A"), ("subject", "elev 😀"),
         ("source", "/b%C3%A9d%C3%B6mning"), ("source", "urn:vklass:export:7"), ("source", "https://v.example/x?y=1")]


def _record(document: dict[str, Any], offset: int) -> ConsumerRecord:
    value = json.dumps(document, ensure_ascii=False).encode()
    key = document["data"]["organiser_id"].encode()
    return ConsumerRecord(TOPIC, 0, offset, RECORD_TIME, 0, key, value, None, len(key), len(value), ())


def _document(attribute: str, value: str) -> dict[str, Any]:
    document = json.loads(example_bytes(PUBLISHED))
    document["id"] = str(uuid.uuid4())
    document[attribute] = value
    return document


def decode_refusals(records: list[ConsumerRecord]) -> list[tuple[int, str, str]]:
    """(position, reason, message) of each record the decode refuses: what the rebuild's decoders must dead-letter
    (the live consumer's decision; also `test_hostile_round37k`)."""
    refused = []
    for n, record in enumerate(records):
        try:
            decode_event(record.value)
        except ContractError as error:
            refused.append((n, error.reason, str(error)))
    return refused


@pytest.mark.parametrize(("what", "attribute", "value", "rule"), ENVELOPES, ids=[e[0] for e in ENVELOPES])
def test_an_envelope_attribute_that_hides_or_imitates_what_it_holds_is_refused_naming_it_and_the_rule(
        what: str, attribute: str, value: str, rule: str) -> None:
    """Each was decoded before (applied by the live consumer and the rebuild). Now `invalid_envelope` naming the
    attribute and the rule, the value never repeated; the rebuild's fast reader (`decode_plain`) takes none."""
    document = _document(attribute, value)
    for raw in (json.dumps(document).encode(), json.dumps(document, ensure_ascii=False).encode()):
        with pytest.raises(ContractError) as refused:
            decode_event(raw)
        assert refused.value.reason == "invalid_envelope" and refused.value.fields == (attribute,), refused.value
        assert refused.value.message.startswith(f"{attribute}: ") and value not in refused.value.message
        assert decode_plain(raw) is None


@pytest.mark.parametrize(("attribute", "value"), TAKEN)
def test_an_envelope_of_any_script_that_shows_what_it_holds_is_taken(attribute: str, value: str) -> None:
    assert getattr(decode_event(json.dumps(_document(attribute, value), ensure_ascii=False)), attribute) == value


def test_the_rebuild_dead_letters_them_as_the_live_consumer_decides() -> None:
    """The rebuild's decoders (`decoded_and_staged`, in the process and as a decoder process answers: COPY text)
    dead-letter each as the decode does, with its reason and message, and read the good events around them
    (the full comparison with the live consumer's loop on PostgreSQL: `test_rebuild_reads_like_live`, whose hostile
    classes hold these too, `test_hostile_events.hostile`)."""
    from styrkedja_reporting.rebuild.bulk import decoded_and_staged, raw_records

    good = [_record(_document("subject", str(uuid.uuid4())), 0)]
    bad = [_record(_document(attribute, value), n + 1) for n, (_, attribute, value, _) in enumerate(ENVELOPES)]
    records = good + bad + [_record(_document("subject", "Школа 7А"), len(bad) + 1)]
    expected = decode_refusals(records)
    assert [n for n, *_ in expected] == list(range(1, len(bad) + 1))
    for as_text in (False, True):
        staged = decoded_and_staged(raw_records(records), 0, 256_000, as_text)
        assert sorted(staged.dead) == expected, as_text
        assert staged.read == 2


def test_a_door_whose_event_the_envelope_refuses_answers_422_naming_the_rule() -> None:
    """A door making an event (`publishable_event`) whose envelope the contract refuses answers 422 naming the rule
    (before: the catch-all `event_contract`). No door of ours writes such a subject (record ids, directory keys);
    one that took a client's would be refused so, never a 500."""
    from styrkedja_contracts import AssessmentPublishedV1
    from styrkedja_kit.rules import RuleViolation, publishable_event

    data = decode_event(example_bytes(PUBLISHED)).data
    assert isinstance(data, AssessmentPublishedV1)
    for subject, source, rule in [("7A\u200belev", "/assessment", "no_invisible_characters"),
                                  ("ass\u0435ssment", "/assessment", "no_mixed_scripts"),
                                  ("7A", "/bedömning", "uri_reference")]:
        with pytest.raises(RuleViolation) as refused:
            publishable_event(lambda: data, source=source, subject=subject, field="body")
        assert (refused.value.field, refused.value.rule, refused.value.status) == ("body", rule, 422)


# -- the SS 12000 import ----------------------------------------------------------------------------------------------

def _trickling_headers(seconds: float, then: bytes) -> Any:
    """A socket script (`ss12000_sockets`): a status line, then a header line every 50 ms for `seconds`, then `then`
    as the body (so that the code before round 36 finished the page, late, instead of hanging the test)."""
    def script(asked: Any, conn: socket.socket) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            conn.sendall(b"X-Still: coming\r\n")
            time.sleep(0.05)
        conn.sendall(b"Content-Type: application/json\r\nContent-Length: " + str(len(then)).encode() + b"\r\n\r\n"
                     + then)
        return False
    return script


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_reporting_trickling_its_answer_is_stopped_by_the_whole_answers_deadline(
        monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """Before: each read of reporting's answer waited at most 120 s, the answer as long as reporting (or a proxy in
    front of it) chose. Now the import stops when the whole answer is not in by `REPORTING_ANSWER_SECONDS` (here 1 s),
    naming reporting, its URL and the wait; a chunk sent may have been applied, and the import says so."""
    from styrkedja_cli.ss12000 import command
    from styrkedja_cli.ss12000.source import SourceError

    monkeypatch.setattr(command, "REPORTING_ANSWER_SECONDS", 1.0)
    body = json.dumps({"items": [], "source_ids": [], "next_after": None}).encode()
    with SocketServer(_trickling_headers(6.0, body)) as server, command.reporting_client(server.url, {}) as client, \
            pytest.raises(SourceError) as stopped:  # (the code before read the answer whole, after 6 s)
        command._ask(client, method, "/v1/directory/held", "list of what reporting holds", lambda _: None,
                     **({"json": {"items": []}} if method == "POST" else {}))
    said = str(stopped.value)
    assert said.startswith(f"the list of what reporting holds: reporting at {server.url} did not answer within 1 s "
                           "(--reporting-answer-seconds, the whole answer; each read 120 s); its address is set by "
                           "--reporting-url"), said  # (the flag named since knobs37)
    assert ("it may have been applied" in said) == (method == "POST")
    assert len(server.asked) == 1  # not asked again


def test_a_page_through_a_proxy_from_the_environment_is_stopped_at_its_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a proxy from the environment got a transport of httpx's own, its connections without the page's
    deadline: a page whose headers trickle through it without end held the import without end (this test, until its
    timeout). Now stopped at `--page-seconds` (here 1.5 s), as a page read directly is (`test_ss12000_round35`)."""
    from styrkedja_cli.ss12000.source import HttpSource, SourceError

    with SocketServer(trickled(b'{"data": []}', in_headers=True)) as proxy:  # (without end: the code before hung)
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        source = HttpSource("http://ss12000.test/v2.0", "t", timeout=1, page_seconds=1.5, attempts=1,
                            sleep=lambda _: None)
        with pytest.raises(SourceError) as stopped:
            list(source.read("organisations", None, lambda *_: None))
    assert proxy.asked and proxy.asked[0].target.startswith("http://ss12000.test/v2.0/organisations")  # via it
    assert "took longer than 1.5 s to arrive (--page-seconds)" in str(stopped.value), stopped.value


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"])
def test_every_transport_of_a_bounded_client_reads_by_its_deadline(monkeypatch: pytest.MonkeyPatch,
                                                                   variable: str) -> None:
    """Each proxy httpx mounts from the environment (and the direct transport) reads by the client's deadline."""
    from styrkedja_cli.ss12000.deadline import Deadline, _Backend, bounded_client, deadline_of

    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                 "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, "http://127.0.0.1:9")
    deadline = Deadline()
    with bounded_client(deadline) as client:
        transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
        assert len(transports) >= 2
        assert all(isinstance(t._pool._network_backend, _Backend) for t in transports)  # type: ignore[attr-defined]
        assert deadline_of(client) is deadline


def test_no_page_of_the_import_touches_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 6 MB page of groups, one with a civic number typed into its name (refused as it is read): never written to a
    file (before: beyond 4 MiB in a temporary file). The import's own tests hold every entity so."""
    import tempfile

    from styrkedja_cli.ss12000.source import HttpSource

    made: list[str] = []
    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, lambda *a, _name=name, **k: made.append(_name))
    group = {"id": "g", "displayName": "7A", "groupType": "Klass", "organisation": {"id": "su"},
             "startDate": "2026-08-17", "extension": {"notes": "x" * 6_000}}
    items = [{**group, "id": f"g{n}"} for n in range(1_000)] + [{**group, "id": "g-pin",
                                                                   "displayName": "Elev 19121212-1212"}]
    page = json.dumps({"data": items}).encode()
    assert len(page) > 4 * 1024 * 1024
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, content=iter([page]))),
                          base_url="http://ss12000.test")
    source = HttpSource("http://ss12000.test", client=client, sleep=lambda _: None)
    read = list(source.read("groups", None, lambda *_: None))
    assert len(read) >= 1_000 and made == []


# -- a fresh angle: the import behind a proxy from the environment ----------------------------------------------------

def _only_proxy(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                 "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _read_stopped(url: str) -> str:
    from styrkedja_cli.ss12000.source import HttpSource, SourceError

    source = HttpSource(url, "t", timeout=1, page_seconds=3, attempts=2, sleep=lambda _: None)
    with pytest.raises(SourceError) as stopped:
        list(source.read("organisations", None, lambda *_: None))
    return str(stopped.value)


def test_a_proxy_that_cannot_be_reached_is_named_without_its_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: "ConnectError (2 attempts): no connection to --url's host and port" — the SS 12000 server blamed for
    the proxy's fault, the proxy not named. Now the proxy is named, never its user name or password."""
    port = _closed_port()
    _only_proxy(monkeypatch, HTTP_PROXY=f"http://importer:pr0xy-s3cret@127.0.0.1:{port}")
    said = _read_stopped("http://ss12000.test/v2.0")
    assert said == (f"organisations, page 1: ConnectError (2 attempts): no connection to the proxy "
                    f"http://127.0.0.1:{port} (from HTTP_PROXY, HTTPS_PROXY or ALL_PROXY; NO_PROXY lists the hosts "
                    "reached directly), or none through it to --url's host"), said
    assert "s3cret" not in said and "importer" not in said


def test_a_proxy_refusing_the_tunnel_is_named_with_its_status_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """An https source through a proxy that refuses its CONNECT (407, its reason phrase a text of the proxy's own):
    before, "ProxyError" and nothing more. Now the proxy, where it comes from, and the status code alone."""
    refuse = b"HTTP/1.1 407 Log in at evil.example \x1b[2J\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n"
    with SocketServer(lambda asked, conn: conn.sendall(refuse)) as proxy:
        _only_proxy(monkeypatch, HTTPS_PROXY=proxy.url.replace("http://", "http://u:pr0xy-s3cret@"))
        said = _read_stopped("https://ss12000.test/v2.0")
        assert proxy.asked and proxy.asked[0].method == "CONNECT"
    assert said == (f"organisations, page 1: ProxyError: the proxy {proxy.url} (from HTTP_PROXY, HTTPS_PROXY or "
                    "ALL_PROXY; NO_PROXY lists the hosts reached directly) did not connect to --url's host (HTTP 407)"
                    ), said


def test_a_proxys_407_to_a_forwarded_request_is_said_as_the_proxys(monkeypatch: pytest.MonkeyPatch) -> None:
    """An http source through a proxy answering 407 itself: before, said as the SS 12000 server's HTTP 407."""
    with SocketServer(answer(407, b"", [("Proxy-Authenticate", "Basic")])) as proxy:
        _only_proxy(monkeypatch, HTTP_PROXY=proxy.url)
        said = _read_stopped("http://ss12000.test/v2.0")
    assert said.startswith("organisations, page 1: HTTP 407") and said.endswith(
        f"from the proxy {proxy.url} (from HTTP_PROXY, HTTPS_PROXY or ALL_PROXY; NO_PROXY lists the hosts reached "
        "directly): it wants credentials of its own"), said
