"""A consumer made with `record_runs` (the bulk rebuild's read) is handed each fetched batch's records as one run of
plain tuples (`RecordTuple`), not a `ConsumerRecord` each (bench/README.md rebuild35: aiokafka's path per record was
~80 % of the rebuild's main process in the read). It must hand out exactly the records aiokafka's own path hands out,
and stand where it stands: control batches and an aborted transaction's batches skipped (read_committed), records
below the fetch offset left out, compressed batches read, the kit's stand-ins for batches it cannot read kept, and
the position after a run its batch's next offset."""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiokafka
import pytest
from aiokafka import TopicPartition
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.legacy_records import LegacyRecordBatchBuilder
from aiokafka.record.util import calc_crc32c

from styrkedja_kit import kafka
from styrkedja_kit.kafka import (
    CONTRACTS_FORM_HEADER,
    FORM_HEADERS,
    NULL_VALUE,
    NullValue,
    UndecodableBatch,
    make_consumer,
    record_runs,
    record_tuples,
    stand_in_refusal,
)
from styrkedja_kit.settings import ServiceSettings

TP = TopicPartition("styrkedja.assessments", 3)
GZIP, ZSTD = 1, 4
ATTRIBUTES_AT, CRC_AT = 21, 17  # the v2 batch header's fields
CONTROL = 0x20  # the attributes' control bit
ABORTED, COMMITTED = 7, 8  # producer ids


def batch(base_offset: int, values: list[bytes | None], codec: int = 0, *, producer: int = -1,
          headers: list[tuple[str, bytes]] | None = None) -> bytearray:
    builder = DefaultRecordBatchBuilder(2, codec, int(producer >= 0), producer, 0 if producer >= 0 else -1,
                                        0 if producer >= 0 else -1, 1 << 20)
    for delta, value in enumerate(values):
        builder.append(delta, 1_700_000_000_000 + delta, b"2999", value,
                       [CONTRACTS_FORM_HEADER] if headers is None else headers)
    raw = builder.build()
    struct.pack_into(">q", raw, 0, base_offset)
    return raw


def marker(offset: int, producer: int, commit: bool) -> bytearray:
    """A transaction's control batch (its commit or abort marker), as the broker writes it."""
    builder = DefaultRecordBatchBuilder(2, 0, 1, producer, 0, -1, 1 << 20)
    builder.append(0, 1_700_000_000_000, struct.pack(">hh", 0, int(commit)), struct.pack(">hi", 0, 0), [])
    raw = builder.build()
    struct.pack_into(">q", raw, 0, offset)
    struct.pack_into(">h", raw, ATTRIBUTES_AT, struct.unpack_from(">h", raw, ATTRIBUTES_AT)[0] | CONTROL)
    struct.pack_into(">I", raw, CRC_AT, calc_crc32c(bytes(raw[ATTRIBUTES_AT:])))
    return raw


def spoilt(raw: bytearray) -> bytearray:
    raw[-3] ^= 0x5A  # a record's bytes changed after the CRC was written: the kit's stand-in at its last offset
    return raw


#: a partition's fetch with every case: a fetch offset inside its first batch, a compressed batch, an aborted and a
#: committed transaction with their markers, a tombstone and records with other and no headers, a batch that does not
#: check (a stand-in), a zstd batch
LOG = bytes(
    batch(0, [b"a0", b"a1"])
    + batch(2, [b"g2", b"g3", b"g4"], GZIP)
    + batch(5, [b"aborted5", b"aborted6"], producer=ABORTED) + marker(7, ABORTED, commit=False)
    + batch(8, [b"committed8"], producer=COMMITTED) + marker(9, COMMITTED, commit=True)
    + batch(10, [None], headers=[("ce_type", b"x")]) + batch(11, [b"plain11"], headers=[])
    + spoilt(batch(12, [b"s12", b"s13"]))
    + batch(14, [b"z14", b"z15"], ZSTD)
)
ABORTED_TRANSACTIONS = [(ABORTED, 5)]  # as a fetch answer names them (producer id, first offset)
WANTED = [1, 2, 3, 4, 8, 10, 11, 13, 14, 15]  # 0 below the fetch offset; 5, 6 aborted; 7, 9 markers; 13 the stand-in


def partition_records(data: bytes, *, runs: bool, fetch_offset: int = 1, aborted: Any = None,
                      isolation: int = fetcher.READ_COMMITTED) -> Any:
    """As the fetcher makes them (its module-level names, which the kit replaces)."""
    return fetcher.PartitionRecords(TP, fetcher.MemoryRecords(data), aborted, fetch_offset, None,
                                    record_runs if runs else None, True, isolation)


@pytest.mark.parametrize("isolation", [fetcher.READ_COMMITTED, fetcher.READ_UNCOMMITTED])
def test_the_runs_hold_exactly_the_records_aiokafkas_own_path_hands_out(isolation: int) -> None:
    aiokafkas = partition_records(LOG, runs=False, aborted=list(ABORTED_TRANSACTIONS), isolation=isolation)
    records = list(aiokafkas)
    reader = partition_records(LOG, runs=True, aborted=list(ABORTED_TRANSACTIONS), isolation=isolation)
    runs = list(reader)
    tuples = [t for run in runs for t in run]
    assert tuples == record_tuples(TP.topic, TP.partition, records)
    assert reader.next_fetch_offset == aiokafkas.next_fetch_offset == 16
    wanted = WANTED if isolation == fetcher.READ_COMMITTED else sorted([*WANTED, 5, 6])
    assert [t[2] for t in tuples] == wanted
    # one run per batch that holds a wanted record; the gzip and zstd batches read whole
    assert [[t[2] for t in run] for run in runs][:2] == [[1], [2, 3, 4]]
    assert all(type(run) is list and all(type(t) is tuple and len(t) == 7 for t in run) for run in runs)


def legacy(magic: int, codec: int, base_offset: int, values: list[bytes]) -> bytearray:
    """A message set of the old formats (v0, v1); compressed, one wrapper at its last inner record's offset."""
    builder = LegacyRecordBatchBuilder(magic, codec, 1 << 20)
    for n, value in enumerate(values):
        builder.append(n if codec and magic else base_offset + n, 1_700_000_000_000 if magic else None, b"2999", value)
    raw = builder.build()
    if codec:
        struct.pack_into(">q", raw, 0, base_offset + len(values) - 1)
    return raw


@pytest.mark.parametrize("magic", [0, 1])
def test_the_old_message_formats_go_as_aiokafkas_own_path_hands_them_out(magic: int) -> None:
    data = bytes(legacy(magic, 0, 0, [b"plain"]) + legacy(magic, GZIP, 1, [b"a", b"b", b"c"])
                 + legacy(magic, 0, 4, [b"after"]))
    records = list(partition_records(data, runs=False, fetch_offset=0))
    tuples = [t for run in partition_records(data, runs=True, fetch_offset=0) for t in run]
    assert tuples == record_tuples(TP.topic, TP.partition, records)
    assert [t[2] for t in tuples] == [0, 1, 2, 3, 4] and all(t[6] is None for t in tuples)


def test_a_tuple_holds_the_records_fields_as_the_decoders_take_them() -> None:
    by_offset = {t[2]: t for run in partition_records(LOG, runs=True, aborted=list(ABORTED_TRANSACTIONS))
                 for t in run}
    assert by_offset[1] == (TP.topic, TP.partition, 1, b"a1", 1_700_000_000_001, b"2999", FORM_HEADERS)
    assert by_offset[1][6] is FORM_HEADERS and by_offset[14][6] is FORM_HEADERS  # one object: pickled once
    tombstone = by_offset[10]
    assert tombstone[3] is NULL_VALUE and tombstone[3] == b"" and tombstone[6] == (("ce_type", b"x"),)
    assert by_offset[11][3] == b"plain11" and by_offset[11][6] is None
    stand_in = by_offset[13][3]
    assert isinstance(stand_in, UndecodableBatch) and stand_in == b"" and by_offset[13][5] is None
    assert stand_in_refusal(stand_in)[0] == "undecodable_batch"  # type: ignore[index]
    # to a decoder process and back: the same values, a null value and a stand-in still told apart
    again = pickle.loads(pickle.dumps([tombstone, by_offset[13]], protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301
    assert isinstance(again[0][3], NullValue) and stand_in_refusal(again[1][3]) == stand_in_refusal(stand_in)


class _State:
    def __init__(self, position: int) -> None:
        self.position, self.paused = position, False

    def consumed_to(self, position: int) -> None:
        self.position = position


def test_a_getmany_stopping_after_a_run_stands_after_its_batch() -> None:
    """`max_records` counts runs; the position stored after one is its batch's next offset (a stop inside a batch
    would read its records again, or pass records not handed out)."""
    state = _State(1)
    assignment = SimpleNamespace(active=True, state_value=lambda tp: state)
    result = fetcher.FetchResult(TP, assignment=assignment, backoff=0,
                                 partition_records=partition_records(LOG, runs=True, aborted=list(ABORTED_TRANSACTIONS)))
    first = result.getall(max_records=1)
    assert [[t[2] for t in run] for run in first] == [[1]] and state.position == 2
    second = result.getall(max_records=2)
    assert [[t[2] for t in run] for run in second] == [[2, 3, 4], [8]] and state.position == 9
    rest = result.getall()
    assert [t[2] for run in rest for t in run] == [10, 11, 13, 14, 15] and state.position == 16
    assert not result.has_more()


def test_a_fetch_of_markers_and_aborted_batches_alone_hands_out_nothing_and_moves_past_them() -> None:
    data = bytes(batch(5, [b"x", b"y"], producer=ABORTED) + marker(7, ABORTED, commit=False)
                 + marker(8, COMMITTED, commit=True))
    reader = partition_records(data, runs=True, fetch_offset=5, aborted=[(ABORTED, 5)])
    assert list(reader) == [] and reader.next_fetch_offset == 9


async def test_a_consumer_is_made_to_hand_out_runs_by_the_mark() -> None:
    consumer = make_consumer(ServiceSettings(), "runs", value_deserializer=record_runs)
    assert consumer._value_deserializer is record_runs  # what the fetcher passes to its PartitionRecords
    with pytest.raises(TypeError):
        record_runs(b"{}")  # never a deserializer: a consumer path that called it would fail loudly


# The runs repeat aiokafka's decisions; an aiokafka whose fetcher reads otherwise must fail loudly, never read wrong.

def test_the_installed_aiokafka_is_the_one_the_runs_were_written_for() -> None:
    """Each part the runs copy or lean on has the source it was written against (a new release that changed one of
    them fails here and at the kit's import: `check_aiokafka`)."""
    assert kafka.aiokafka_parts_changed() == []
    assert aiokafka.__version__ == kafka.AIOKAFKA_WRITTEN_FOR  # the pin (requirements/runtime.in)
    kafka.check_aiokafka()


def test_another_release_with_the_same_parts_is_taken() -> None:
    kafka.check_aiokafka("9.9.9")


def test_another_release_with_a_changed_part_is_refused_naming_both_releases() -> None:
    for name in kafka.AIOKAFKA_PARTS:
        with pytest.raises(kafka.AiokafkaChanged) as refused:
            kafka.check_aiokafka("9.9.9", {**kafka.AIOKAFKA_PARTS, name: "0" * 32})
        assert f"aiokafka {kafka.AIOKAFKA_WRITTEN_FOR}'s" in str(refused.value)
        assert f"aiokafka 9.9.9 changed {name}:" in str(refused.value)


def test_a_changed_unpack_is_caught_by_its_source(monkeypatch: pytest.MonkeyPatch) -> None:
    class Changed(fetcher.PartitionRecords):  # type: ignore[misc]
        def _unpack_records(self) -> Any:  # e.g. a release that stops skipping control batches
            yield from ()

    monkeypatch.setattr(kafka, "_AIOKAFKA_PARTITION_RECORDS", Changed)
    assert kafka.aiokafka_parts_changed() == ["PartitionRecords"]
    with pytest.raises(kafka.AiokafkaChanged, match="changed PartitionRecords"):
        kafka.check_aiokafka("9.9.9")


def test_a_changed_constructor_or_a_missing_method_is_refused_even_in_the_pinned_release(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Reordered:
        def __init__(self, tp: Any, records: Any, fetch_offset: Any, aborted_transactions: Any, *rest: Any) -> None:
            pass

        _unpack_records = _consume_aborted_up_to = _contains_abort_marker = __next__ = lambda self: None

    monkeypatch.setattr(kafka, "_AIOKAFKA_PARTITION_RECORDS", Reordered)
    with pytest.raises(kafka.AiokafkaChanged, match="PartitionRecords.__init__'s arguments"):
        kafka.check_aiokafka(kafka.AIOKAFKA_WRITTEN_FOR)

    class Unmarked(fetcher.PartitionRecords):  # type: ignore[misc]
        _contains_abort_marker = None

    monkeypatch.setattr(kafka, "_AIOKAFKA_PARTITION_RECORDS", Unmarked)
    with pytest.raises(kafka.AiokafkaChanged, match="_contains_abort_marker"):
        kafka.check_aiokafka(kafka.AIOKAFKA_WRITTEN_FOR)


def test_the_kit_does_not_import_with_a_changed_aiokafka(tmp_path: Path) -> None:
    """The check runs at the kit's import: an aiokafka of another release whose `_unpack_records` changed stops
    the import with a message naming the release written for."""
    (tmp_path / "changed_aiokafka.py").write_text(
        "import aiokafka\n"
        "from aiokafka.consumer import fetcher\n"
        "aiokafka.__version__ = '9.9.9'\n"
        "class PartitionRecords(fetcher.PartitionRecords):\n"
        "    def _unpack_records(self):\n"
        "        yield from ()\n"
        "fetcher.PartitionRecords = PartitionRecords\n")
    done = subprocess.run([sys.executable, "-c", "import changed_aiokafka, styrkedja_kit.kafka"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)}, check=False)
    assert done.returncode != 0
    assert "AiokafkaChanged" in done.stderr and "aiokafka 0.14.0's fetcher; aiokafka 9.9.9 changed PartitionRecords" \
        in done.stderr
