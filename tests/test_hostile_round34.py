"""Hostile round 34: a campaign by hand of what the earlier rounds did not send (tests/campaign34_local.py), and a
schemathesis run (tests/campaign31_local.py's harness, seed 34), against the four services in-process and the
dashboard's own endpoints, and events of such payloads on reporting's consumer.

Tried and found held (no 5xx; a 4xx problem+json naming the field and the rule; nothing sent echoed): query
parameters in Arabic-Indic and full-width digits, a superscript, `1e2`, `0x1`, `1_0`, `-0`, `+1`, overlong
(`%C0%AE`, `%E0%80%80`), surrogate (`%ED%A0%80`) and five-byte UTF-8, `%u0041`, a bare `%`, a BOM, a zero-width
space; `p[]=`, `p.x=`, `P=`, `p%00=`, `;` and `%26` as separators, a name alone, the same value twice, `?;`; path
segments of `.`, `..`, `%2e%2e%2f`, `;x=1` matrix parameters, `%3B`, `%2F`, `%5C`, `%25`, a line break, other
digits, 10,000 characters, a trailing slash, `//`, `/V1/`, `/./`, `/x/../`; each documented body with `-0`, `1E+2`,
`100.0`, `1e400`, `1.000000000000000001` for each integer, a key twice at depth, a BOM, UTF-16 with and without its
BOM, trailing NUL or comma, two documents, a comment, single quotes, 5,000 levels of nesting; 19 Content-Type
spellings (charset quoted, UTF-16, a list, `text/json`, `+json` types), two Content-Type headers; Content-Encoding
`gzip` (a 50 MB bomb too), `deflate`, `br`, `identity`, `x-gzip`, empty, and gzip named over a plain body; chunked
without a length, `Expect: 100-continue`, `Content-MD5`/`Digest` junk; Accept of 600 types, `q=nan`, `q=2`, `*/json`,
CSV and xlsx on JSON operations; Range of 2,000 parts and of 40 digits; If-None-Match `*`/junk, If-Match,
If-Modified-Since, If-Range; `Idempotency-Key` empty, of 9,000 characters, a DEL, a personal identity number;
`traceparent`, `Forwarded`, `X-Forwarded-*`, `Host` of junk; Authorization spelt with two blanks, a tab, lower case,
a trailing blank or `=`, a fourth segment, twice; HEAD and OPTIONS (and a CORS preflight) on every route; tokens
signed by the issuer's own key with `exp` as `1e400`, `NaN`, 5,000 digits, a string, a list; roles and organisers
as a string, nested, objects, in other digits, 10,000 of them; `aud` and `iss` nested; a header with `kid` a list,
a path, NUL, 8,000 characters, `alg` in lower case, `crit`, `b64: false`, `jku`, an embedded `jwk`. The dashboard:
every page and download with the same query values, HEAD/OPTIONS/TRACE, Range and the rest of the headers, cookies
twice, of 8 kB, quoted; path names `trend.CSV`, `trend.csv%00`, `trend.xlsx.csv`, `../rapport.pdf`; an
acknowledgement posted as JSON, gzip, multipart (broken, no boundary), 5,000 fields, CSRF or `tillbaka` twice.
Events: a BOM, UTF-16, trailing data, two documents, an integer as `1e400`, 5,000 digits, `1E+2` or `100.0`, an
organiser id in other digits.

Counts (load average 12-15 on the shared 2 cores): the hand-made campaign 19,133 requests to the services
(assessment 1,681, forecast 1,182, LIKA 2,968, reporting 13,302) and 8,913 to the dashboard; schemathesis with every
check and phase, the broad token, seed 34, 60 s a service: 5,188 cases (790, 1,434, 1,930, 1,034), no finding;
`decode_event` on every contract's example in 560 spellings (offline), 12 of them on the broker here; 29 raw-socket
requests a service (absolute-form targets, `OPTIONS *`, `CONNECT`, two Hosts, obs-fold, `gzip, chunked`, a 100 kB
chunk extension, a trailer naming a length, pipelining after a refusal, a bare LF). One finding:

Found and mended:

- A token validly signed by the issuer whose JSON readers read differently was taken: a claim named twice
  (`"roles": [...]` again: PyJWT reads the last, a gateway or an audit that reads the first another principal),
  claims with a UTF-8 byte-order mark, claims in UTF-16 (RFC 7519 §7.2: UTF-8 JSON), a lone surrogate in a claim,
  the header naming `kid` twice. Only the issuer's key (or a leaked one) signs them, so it is defence in depth,
  the same rule the bodies and events keep (`duplicate_key`): the kit's verifier now reads the header and the claims
  once more after the signature (`auth.tokens._one_reading`, once per token: the verified cache; 52-67 us a token
  against PyJWT's 620-660 us ES256 decode, measured at load 10), a 401. The five joined `styrkedja_devstack.token_attacks.attack_authorizations`, which every route of the kit's test app is sent.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from inprocess import ORGANISER
from test_hostile_events import dead_letters_and_applied, encoded, fresh_reporting, good

from styrkedja_devstack.token_attacks import attack_authorizations

pytestmark = [pytest.mark.integration]

#: round 34's attacks in `attack_authorizations`: JSON signed by the issuer that readers read differently
READ_TWO_WAYS = ["a claim given twice", "claims with a byte-order mark", "claims in UTF-16",
                 "a lone surrogate in a claim", "a header key given twice"]


def first_operation(client: httpx.Client, plain: str) -> tuple[Callable[[str], httpx.Response], str]:
    """The first operation of the service's document (assessment has no read), sent with a token: a GET, or an
    empty JSON body; its answer to the plain token is no 401 (round 35 sends its tokens the same way). With the
    operation's method and path, for a failure's message."""
    document = client.get("/openapi.json", headers={"Authorization": plain}).json()
    template, method = next((t, m) for t, item in document["paths"].items() for m in item
                            if t not in ("/healthz", "/readyz", "/metrics"))
    read = re.sub(r"\{(\w+)\}", lambda m: ORGANISER if m.group(1) == "organiser_id" else str(uuid.uuid4()),
                  template)
    body: dict[str, Any] = {} if method == "get" else {"content": b"{}",
                                                      "headers": {"content-type": "application/json"}}

    def sent(authorization: str) -> httpx.Response:
        return client.request(method.upper(), read, content=body.get("content"),
                              headers={**body.get("headers", {}), "Authorization": authorization})

    return sent, f"{method.upper()} {read}"


@pytest.mark.postgres_only
def test_a_signed_token_that_readers_read_two_ways_is_refused_by_every_service(running, token_issuer):
    """Failed before: each was taken (200 on a read) — the claim named twice read by its last value, the BOM and
    UTF-16 read by Python's JSON, the lone surrogate kept. The same claims spelt plainly pass (the control)."""
    name, service = running
    attacks = attack_authorizations(token_issuer, organisers=[ORGANISER])
    plain = "Bearer " + token_issuer.mint(roles=["organiser_admin", "ops", "platform", "principal", "teacher",
                                                 "area_manager"], organisers=[ORGANISER])
    with httpx.Client(base_url=service.url, timeout=60) as client:
        sent, operation = first_operation(client, plain)
        control = sent(plain)
        answers = {label: sent(attacks[label]) for label in READ_TWO_WAYS}
    assert control.status_code != 401, (name, operation, control.text)
    wrong = [f"{label}: {answer.status_code} {answer.text[:150]}" for label, answer in answers.items()
             if answer.status_code != 401 or answer.headers["content-type"] != "application/problem+json"]
    assert not wrong, (name, operation, wrong)


_TOPIC, _TYPE = "styrkedja.assessments", "se.styrkedja.assessment.published.v1"


def _spelt(document: dict[str, Any], field: str, spelling: str) -> bytes:
    """The event with its data's `field` written as the JSON number `spelling`."""
    marker = "\u2063FIELD\u2063"
    text = json.dumps({**document, "data": {**document["data"], field: marker}}, ensure_ascii=False)
    return text.replace(json.dumps(marker, ensure_ascii=False), spelling).encode()


def _records() -> list[tuple[str, bytes, str | None]]:
    """(attack, value, the dead letter's reason or None: applied) on the assessments' topic."""
    def fresh() -> dict[str, Any]:
        return good(_TYPE)

    plain = encoded(fresh())
    other_digits = fresh()
    other_digits["data"]["organiser_id"] = "\u0662\u0669\u0669\u0669"
    full_width = fresh()
    full_width["data"]["school_unit_code"] = "\uff12\uff19\uff19\uff19\uff10\uff10\uff11\uff11"
    return [
        ("good, first", encoded(fresh()), None),
        ("a UTF-8 byte-order mark", b"\xef\xbb\xbf" + encoded(fresh()), "undecodable"),
        ("UTF-16", encoded(fresh()).decode().encode("utf-16"), "undecodable"),
        ("trailing data", encoded(fresh()) + b" x", "undecodable"),
        ("two documents", plain + encoded(fresh()), "undecodable"),
        ("a trailing NUL", encoded(fresh()) + b"\x00", "undecodable"),
        ("the revision 1e400", _spelt(fresh(), "revision", "1e400"), "invalid_data"),
        ("the revision in 5,000 digits", _spelt(fresh(), "revision", "9" * 5000), "undecodable"),
        ("the year 1E+1", _spelt(fresh(), "year", "1E+1"), "invalid_data"),
        ("the round 2.0", _spelt(fresh(), "round", "2.0"), "invalid_data"),
        ("the organiser in Arabic-Indic digits", encoded(other_digits), "invalid_data"),
        ("the school unit in full-width digits", encoded(full_width), "invalid_data"),
        ("good, last", encoded(fresh()), None),
    ]


async def test_events_of_odd_encodings_and_numbers_are_dead_lettered_with_their_reason(infrastructure):
    """Reporting's consumer on the assessments' topic (held: each dead-lettered with its reason, the good events
    around them applied, the loop carrying on)."""
    settings = await fresh_reporting(infrastructure, "round34")
    records = _records()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        placed = []
        for _, value, _ in records:  # one partition: in order, the good last one behind every attack
            sent = await producer.send(_TOPIC, value=value, key=ORGANISER.encode(), partition=0)
            placed.append(await sent)
    finally:
        await producer.stop()
    where = [(p.topic, p.partition, p.offset) for p in placed]
    expected = {at: (attack, reason) for at, (attack, _, reason) in zip(where, records, strict=True)
                if reason is not None}
    wanted = {uuid.UUID(json.loads(value)["id"]) for _, value, reason in records if reason is None}

    dead, applied = await dead_letters_and_applied(settings, _TOPIC, set(expected), wanted)

    reasons = {place: headers["dlq.reason"] for place, headers, _ in dead if place in set(where)}
    wrong = [f"{attack}: {reasons.get(at, 'not dead-lettered')}, not {reason}" for at, (attack, reason)
             in expected.items() if reasons.get(at) != reason]
    wrong += [f"{records[where.index(at)][0]}: dead-lettered ({reason})" for at, reason in reasons.items()
              if at not in expected]
    if not wanted <= applied:
        wrong.append(f"good events not applied: {len(wanted - applied)} of {len(wanted)}")
    assert not wrong, "\n".join(wrong)
