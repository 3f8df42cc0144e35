"""Hostile inputs, round 23 (b): events other producers write straight to Kafka, the contracts' refusals, the CLI.

Found and fixed (each test failed on the old code, as said at it):
- The same event re-sent in another JSON form was a `conflicting_duplicate` (dead-lettered as another event under its
  id) whenever its *first* delivery was not in the contracts' own form (`CloudEvent.to_bytes`, every outbox's): the
  consumers kept a digest of the first record's bytes, and compared a re-send's bytes and its contracts' form with
  it, neither of which a first record written by another producer (Python's `json.dumps`, Jackson, librdkafka
  clients: spaces, key order, escapes) ever matches. Round 3 held the case of a first record in the contracts' form
  only. Now an applied id keeps the digest of the event's contracts' form where its record is in another
  (`styrkedja_kit.consumer.content_digest`), in the live consumer and the rebuild alike.
- A key given twice beside nesting at the JSON parser's limit made `decode_event` raise RecursionError (it parsed the
  message again, a few frames deeper, to name where), no contract error: the live consumer, which dead-letters
  contract errors only, restarted on that record for ever, and the rebuild's decoders stopped. Now the contracts
  refuse it as `undecodable` (packages/contracts/tests/test_envelope.py), and any fault of the decode itself on a
  record is dead-lettered as `undecodable` naming the error's type, the rest of the batch applied (the kit's
  consumer, the rebuild's decoders).
- A UUID in an event (the envelope's `id`, every UUID of the data) was read in any spelling pydantic takes (`{…}`,
  `urn:uuid:…`, 32 hex digits), where the schemas' `format: uuid` refuses them; round 22 held the HTTP bodies to the
  36-character form, now the events too, the decode's fast path included (packages/contracts/tests/test_envelope.py).
  A rebuild refuses such an event that a live consumer applied before this round (as with rounds 18 and 19's names).
- A calendar's `timezone` was any file `ZoneInfo` loads: `localtime` (the host's own zone: an organiser's deadlines,
  and every forecast's lateness, fell on other days on each host, replica and rebuild), `right/…` (leap seconds: every
  time 27 s off), `posix/…`, `posixrules`, `Factory`; now an IANA zone of `available_timezones()` and none of those
  (the contracts' `ReportingCalendar`: the `calendar.changed` event and the forecast service's calendar door;
  packages/contracts/tests/test_calendar.py).
- An action plan's tags in the `lika.action_plan_changed` event took what the LIKA service's own door refuses: a tag
  over 40 characters (100,000: a cell of every to-do export) and a tag given twice; now the same rules
  (packages/contracts/tests/test_lika_action_plan.py).
- Tested where they live: a refusal's message and fields are bounded (at most 20 errors listed, then how many more;
  each key of a path cut at 40 characters, a personnummer's path at 200) and escaped where not printable
  (packages/contracts/tests/test_envelope.py); `styrkedja token --ttl` of 5,000 digits or non-ASCII digits and
  `--client-id` holding a personnummer (packages/cli/tests/test_token.py); `styrkedja demo --dump-dir` naming a file
  (packages/demo/tests/test_cli.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiokafka import TopicPartition
from test_hostile_events import encoded, good
from test_hostile_round3 import _loop, _record, _unit_names
from test_hostile_round4 import rebuild_takes_one_event_and_one_conflict

from styrkedja_contracts import decode_event
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.testing import RecordingProducer
from styrkedja_kit.consumer import record_digest
from styrkedja_reporting.rebuild.bulk import decoded_and_staged
from support import other_form

UNIT = "se.styrkedja.organisation.unit_upserted.v1"


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_an_event_first_sent_in_another_form_is_a_duplicate_in_every_form_after(infrastructure):
    """Failed on the old code: the first record written by another producer (`json.dumps` with its spaces; keys in
    another order, indented, escaped), its re-sends in the contracts' form, in the first's own form with other key
    order, and in a third form were each dead-lettered as `conflicting_duplicate`; only exact byte re-sends passed.
    Another content under the id is still a conflict."""
    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), "hostile23b-forms")
    topic, partition = "styrkedja.organisation", TopicPartition("styrkedja.organisation", 0)
    document = json.loads(decode_event(encoded(good(UNIT))).to_bytes())
    changed = {**document, "data": {**document["data"], "name": "Ett annat namn"}}
    canonical = decode_event(encoded(document)).to_bytes()
    sorted_keys = json.dumps(document, sort_keys=True).encode()
    twin = json.loads(decode_event(encoded(good(UNIT))).to_bytes())
    producer = RecordingProducer()
    try:
        await loop.process({partition: [_record(topic, 0, encoded(document), b"2999")]}, producer)
        await loop.process({partition: [_record(topic, 1, encoded(document), b"2999"),  # the same bytes
                                        _record(topic, 2, canonical, b"2999"),
                                        _record(topic, 3, other_form(document), b"2999"),
                                        _record(topic, 4, sorted_keys, b"2999"),
                                        _record(topic, 5, encoded(changed), b"2999")]}, producer)
        # in one batch: the first (in another producer's form) counts, its other forms are the same event
        await loop.process({partition: [_record(topic, 6, other_form(twin), b"2999"),
                                        _record(topic, 7, json.dumps(twin, sort_keys=True).encode(), b"2999"),
                                        _record(topic, 8, decode_event(encoded(twin)).to_bytes(), b"2999")]}, producer)
        assert [(h["dlq.offset"], h["dlq.reason"]) for _, _, h in producer.sent] == [(b"5", b"conflicting_duplicate")]
        assert loop.applied_count == 2
        assert await _unit_names(database, document["data"]["unit_id"]) == [document["data"]["name"]]
    finally:
        await database.dispose()


@pytest.mark.integration
async def test_the_rebuild_judges_an_event_first_sent_in_another_form_as_the_live_consumer_does(infrastructure):
    """Failed on the old code: the rebuild kept the first record's bytes' digest too, and its re-sends in the
    contracts' form and in a third form went to its dead-letter topic as `conflicting_duplicate`s. Another content
    under the id is still a conflict, and the first counts."""
    await rebuild_takes_one_event_and_one_conflict(
        infrastructure, "hostile23b", lambda first, document, changed: [
            encoded(document), decode_event(encoded(document)).to_bytes(), other_form(document),
            json.dumps(document, sort_keys=True).encode(), encoded(changed)])


def test_the_rebuild_keeps_the_contracts_form_digest_of_a_fact_written_in_another_form() -> None:
    """The rebuild's direct COPY lines (a fact event the fast path took) keep the digest the live consumer keeps: of
    the contracts' form where the record is in another. Failed on the old code: the record's bytes' digest."""
    document = good("se.styrkedja.assessment.published.v1")
    canonical = decode_event(encoded(document)).to_bytes()
    topic = "styrkedja.assessment"
    for value in (encoded(document), canonical):
        staged = decoded_and_staged([(topic, 0, 0, value, -1, document["data"]["organiser_id"].encode())], 0,
                                    1_000_000, as_text=True)
        assert staged.read == 1 and record_digest(canonical).hex() in staged.texts["assessments"].decode()


def _decode_failing_on(marker: bytes, decode: Any) -> Any:
    def decode_or_fail(raw: Any, **kwargs: Any) -> Any:
        if marker in bytes(raw or b""):
            raise RecursionError("maximum recursion depth exceeded")  # as the decode's own fault once did
        return decode(raw, **kwargs)
    return decode_or_fail


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_a_fault_of_the_decode_itself_dead_letters_the_record_and_the_loop_goes_on(infrastructure, monkeypatch):
    """Failed on the old code: an error of `decode_event` other than a contract error (a RecursionError: see
    packages/contracts/tests/test_envelope.py) left the batch's processing; the loop restarted on the same record
    for ever, nothing after it applied. Now such a record is dead-lettered as `undecodable` naming the error's type
    only, and the batch's other events are applied; the rebuild's decoders likewise."""
    import styrkedja_kit.consumer as consumer
    import styrkedja_reporting.rebuild.bulk as bulk

    monkeypatch.setattr(consumer, "decode_event", _decode_failing_on(b'"boom"', consumer.decode_event))
    monkeypatch.setattr(bulk, "decode_event", _decode_failing_on(b'"boom"', bulk.decode_event))
    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), "hostile23b-fault")
    topic, partition = "styrkedja.organisation", TopicPartition("styrkedja.organisation", 0)
    bad, fine = b'{"boom": "' + b"[" * 10 + b'"}', decode_event(encoded(good(UNIT))).to_bytes()
    producer = RecordingProducer()
    try:
        await loop.process({partition: [_record(topic, 0, bad, b"2999"), _record(topic, 1, fine, b"2999")]}, producer)
        assert [(h["dlq.offset"], h["dlq.reason"]) for _, _, h in producer.sent] == [(b"0", b"undecodable")]
        assert b"RecursionError" in producer.sent[0][2]["dlq.message"]
        assert loop.applied_count == 1
    finally:
        await database.dispose()
    staged = decoded_and_staged([(topic, 0, 0, bad, -1, b"2999"), (topic, 0, 1, fine, -1, b"2999")], 0, 1_000_000)
    assert [(index, reason) for index, reason, _ in staged.dead] == [(0, "undecodable")] and staged.read == 1
