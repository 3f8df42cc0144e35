"""`access.answers` without a database: the shared version read never serves a request a read that
started before it arrived; generations and the byte bound of the kept answers."""

from __future__ import annotations

import asyncio
from datetime import date

from styrkedja_reporting.access.answers import (
    ENTRY_OVERHEAD_BYTES,
    SWEDEN,
    Answer,
    Answers,
    State,
    StateVersions,
    entry_bytes,
    request_key,
    today,
)


class SlowReads:
    """Each read returns the number of reads started so far, once the test lets it finish."""

    def __init__(self) -> None:
        self.started = 0
        self.gates: list[asyncio.Event] = []

    async def __call__(self):
        self.started += 1
        mine = self.started
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        return ((("topic", mine, None),))


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_request_only_takes_a_read_that_started_after_it_arrived():
    reads = SlowReads()
    versions = StateVersions(reads)
    first = asyncio.ensure_future(versions.current())
    await _settle()
    assert reads.started == 1
    # two more arrive while the first read runs: it may predate a commit they must see
    later = [asyncio.ensure_future(versions.current()) for _ in range(2)]
    await _settle()
    assert reads.started == 1 and not any(f.done() for f in later)
    reads.gates[0].set()
    await _settle()
    assert first.done() and first.result().version == (("topic", 1, None),)
    assert reads.started == 2 and not any(f.done() for f in later)  # the next read, shared by both
    reads.gates[1].set()
    await _settle()
    assert [f.result().version for f in later] == [(("topic", 2, None),)] * 2
    assert first.result().seq < later[0].result().seq == later[1].result().seq
    # nothing running: the next request starts a read at once
    again = asyncio.ensure_future(versions.current())
    await _settle()
    assert reads.started == 3
    reads.gates[2].set()
    assert (await again).version == (("topic", 3, None),)


async def test_with_overlapping_reads_a_request_still_only_takes_a_read_that_started_after_it_arrived():
    """Two read slots: a request arriving while a slot is free starts its own read at once (it
    does not take the one running: that one started before it); with both busy, the waiting
    requests share the next read, started when either slot frees — never one of the two running."""
    reads = SlowReads()
    versions = StateVersions(reads, overlap=2)
    first = asyncio.ensure_future(versions.current())
    await _settle()
    second = asyncio.ensure_future(versions.current())
    await _settle()
    assert reads.started == 2  # its own read, not the first's
    waiting = [asyncio.ensure_future(versions.current()) for _ in range(2)]
    await _settle()
    assert reads.started == 2 and not any(f.done() for f in waiting)
    reads.gates[1].set()  # the second read ends first: the next starts in its slot, the first still runs
    await _settle()
    assert second.done() and second.result().version == (("topic", 2, None),)
    assert not first.done() and reads.started == 3 and not any(f.done() for f in waiting)
    reads.gates[0].set()
    await _settle()
    assert first.result().version == (("topic", 1, None),) and not any(f.done() for f in waiting)
    reads.gates[2].set()
    await _settle()
    assert [f.result().version for f in waiting] == [(("topic", 3, None),)] * 2
    assert reads.started == 3


def test_the_day_of_an_answer_turns_with_the_local_the_utc_and_the_swedish_date():
    local, utc, swedish = today()
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    assert local == date.today() and utc == now.date() and swedish == now.astimezone(SWEDEN).date()


async def test_a_failed_read_fails_its_waiters_and_the_next_read_runs():
    calls = 0

    async def read():
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database away")
        return ()

    versions = StateVersions(read)
    try:
        await versions.current()
    except OSError:
        pass
    else:
        raise AssertionError("the failure must reach the request")
    assert (await versions.current()).version == ()


def _answer(size: int) -> Answer:
    return Answer(200, (), b"x" * size, b'"e"')


def test_a_new_version_starts_a_new_generation_and_an_older_read_keeps_nothing():
    answers = Answers()
    v1, v2 = State(1, (("t", 1, None),), None), State(2, (("t", 2, None),), None)
    today = date(2027, 3, 1)
    g1 = answers.generation("app", v1, today)
    answers.keep(g1, "class", ("/p", (), None), _answer(3))
    assert answers.generation("app", v1, today) is g1 and len(answers) == 1
    g2 = answers.generation("app", v2, today)
    assert g2 is not g1 and len(answers) == 0
    late = answers.generation("app", v1, today)  # a read of the older version, answered late
    answers.keep(late, "class", ("/p", (), None), _answer(3))
    assert answers.generation("app", v2, today) is g2 and len(answers) == 0
    assert answers.generation("app", v2, date(2027, 3, 2)) is not g2  # a new day: ages and file names change


def test_answers_are_bounded_by_bytes_and_entries():
    one = entry_bytes(("c", ("/p0", (), None)), _answer(4))
    answers = Answers(max_entries=3, max_bytes=2 * one + 1)
    g = answers.generation("app", State(1, (), None), date(2027, 3, 1))
    for n in range(4):
        answers.keep(g, "c", (f"/p{n}", (), None), _answer(4))
    assert len(answers) == 2 and g.size == 2 * one  # 3 entries > the bound: the oldest go first
    assert answers.find(g, "c", ("/p3", (), None)) is not None and answers.find(g, "c", ("/p0", (), None)) is None
    assert answers.find(g, "other class", ("/p3", (), None)) is None


def test_the_request_key_orders_parameters_by_name_and_keeps_repeated_ones_in_order():
    def key(query: bytes, accept: bytes | None = None):
        headers = [(b"accept", accept)] if accept else []
        return request_key({"path": "/v1/results/assessments", "query_string": query, "headers": headers})

    assert key(b"level=area&organiser_id=2999") == key(b"organiser_id=2999&level=area")
    assert key(b"split=gender&split=year") != key(b"split=year&split=gender")
    assert key(b"level=area&organiser_id=2999") != key(b"level=area&organiser_id=3001")
    assert key(b"level=area", b"text/csv") != key(b"level=area")
    assert key(b"unit_id=a%2Fb") == key(b"unit_id=a/b")


def test_an_answer_is_counted_by_what_it_holds_not_by_its_body_alone():
    """Round 26: the byte bound (`read_cache_max_mb`) counted the bodies' lengths only, while each entry held its
    headers, ETag, key and objects besides (~1–2 kB: bench/answer_cache_bytes.py): 4,096 answers of 100 bytes were
    counted 0.4 MB and held ~8 MB. Failed on the old code: counted 100."""
    answers = Answers()
    g = answers.generation("app", State(1, (), None), date(2027, 3, 1))
    headers = ((b"vary", b"Accept"), (b"content-type", b"text/csv; charset=utf-8"),
               (b"content-disposition", b'attachment; filename="rapporteringsgrad-2999-2026-27.csv"'))
    key = ("/v1/compliance/organisers/2999/school-units", (("school_year", "2026/27"), ("term", "HT")), b"text/csv")
    answer = Answer(200, headers, b"x" * 100, b'"0123456789abcdef0123456789abcdef"')
    answers.keep(g, "c", key, answer)
    texts = 100 + sum(len(k) + len(v) for k, v in headers) + len(answer.etag) + len(key[0]) + len(key[2])
    assert g.size == entry_bytes(("c", key), answer) > texts + ENTRY_OVERHEAD_BYTES
    answers.keep(g, "c", key, answer)  # the same answer again: counted once
    assert g.size == entry_bytes(("c", key), answer)
    bounded = Answers(max_bytes=1000 * 100)  # room for 1,000 bodies of 100 bytes, not for 1,000 such entries
    small = bounded.generation("app", State(1, (), None), date(2027, 3, 1))
    for n in range(1000):
        bounded.keep(small, "c", (f"/v1/figures/trend/{n}", (("level", "area"),), b"application/json"), _answer(100))
    assert len(bounded) < 100 and small.size <= 1000 * 100
    assert small.size == sum(entry_bytes(k, a) for k, a in small.answers.items())  # counted out as counted in
