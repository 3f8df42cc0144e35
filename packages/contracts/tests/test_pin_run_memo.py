"""The personnummer pre-filter's verdict on a run remembered (`identifiers._run_holds_pin`, rebuild35): the same
verdict as the look itself for every run, whatever runs came before — an organisation number with a personnummer's
shape beside personnummer and near misses — and for whole documents; the memory bounded."""

from __future__ import annotations

import json
from itertools import permutations

from styrkedja_contracts import identifiers
from styrkedja_contracts.identifiers import contains_personal_identity_number

RUNS = [b"214168-5760", b"19121212-1212", b"121212-1212", b"121212 - 1212", b"121212+1212", b"121212-1213",
        b"20121212-1212", b"000000-0000", b"1212121212", b"9912310000"]


def test_a_remembered_verdict_is_the_look_at_that_run() -> None:
    look = identifiers._run_holds_pin.__wrapped__
    truth = {run: look(run) for run in RUNS}
    assert truth[b"19121212-1212"] and truth[b"121212-1212"] and not truth[b"214168-5760"]
    for order in permutations(RUNS[:5]):
        identifiers._run_holds_pin.cache_clear()
        for run in (*order, *RUNS, *order):
            assert identifiers._run_holds_pin(run) is truth[run], run


def test_documents_in_turn_keep_their_own_verdicts() -> None:
    """An organiser's documents, one with a student's personnummer among them: only that one is looked at further."""
    identifiers._run_holds_pin.cache_clear()
    for n in range(6):
        data = {"organiser_id": "214168-5760", "note": "19121212-1212" if n == 3 else f"note {n}"}
        raw = json.dumps(data, separators=(",", ":")).encode()
        found = identifiers.plain_json_may_contain_personal_identity_number(raw)
        assert found is (n == 3)
        assert found is contains_personal_identity_number(data["note"])


def test_the_memory_is_bounded() -> None:
    identifiers._run_holds_pin.cache_clear()
    for n in range(identifiers._run_holds_pin.cache_info().maxsize + 50):
        identifiers._run_holds_pin(f"{n:06d}-0000".encode())
    info = identifiers._run_holds_pin.cache_info()
    assert info.currsize <= info.maxsize
