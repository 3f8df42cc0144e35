"""The rebuild's environment knobs (`settings.RebuildSettings`, part of reporting's settings): a bad value stops
`styrkedja rebuild reporting` at its start with one line naming the variable and its rule, exit 2, as its flags' bad
values do. Failed on the old code: `STYRKEDJA_REBUILD_PASS_PARTS=abc` (a bare `int()`) was a ValueError traceback
once the rebuild had begun, `0` and `-3` were taken as one part, `1000000000` connections were asked of PostgreSQL,
and `STYRKEDJA_REBUILD_KEEP_INDEXES=0` kept the indexes (any text was true)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from styrkedja_reporting.rebuild import bulk, command
from styrkedja_reporting.settings import GC_GEN0, RebuildSettings, ReportingSettings

KNOBS = ("CONNECTIONS", "PASS_PARTS", "WORKERS", "WORK_MEM_MB", "GC_GEN0", "KEEP_INDEXES", "COPY_TEXT", "EXPLAIN")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def clean_env(monkeypatch):
    for knob in KNOBS:
        monkeypatch.delenv(f"STYRKEDJA_REBUILD_{knob}", raising=False)
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{closed_port()}/styrkedja_reporting")
    monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{closed_port()}")
    return monkeypatch


@pytest.mark.parametrize(("knob", "value", "rule"), [
    ("PASS_PARTS", "abc", "valid integer"),
    ("PASS_PARTS", "0", "greater than or equal to 1"),
    ("PASS_PARTS", "-3", "greater than or equal to 1"),
    ("PASS_PARTS", "1e9", "valid integer"),
    ("PASS_PARTS", "1000000000", "less than or equal to 64"),
    ("CONNECTIONS", "abc", "valid integer"),
    ("CONNECTIONS", "0", "greater than or equal to 1"),
    ("CONNECTIONS", "-3", "greater than or equal to 1"),
    ("CONNECTIONS", "100000", "less than or equal to 64"),
    ("WORKERS", "-1", "greater than or equal to 0"),
    ("WORKERS", "two", "valid integer"),
    ("WORKERS", "65", "less than or equal to 64"),
    ("WORK_MEM_MB", "1", "greater than or equal to 64"),
    ("WORK_MEM_MB", "1e9", "valid integer"),
    ("WORK_MEM_MB", "99999999", "less than or equal to 65536"),
    ("GC_GEN0", "-3", "greater than or equal to 0"),
    ("GC_GEN0", "lots", "valid integer"),
    ("GC_GEN0", "9" * 30, "less than or equal to 100000000"),
    ("KEEP_INDEXES", "perhaps", "valid boolean"),
    ("COPY_TEXT", "2", "valid boolean"),
    ("EXPLAIN", "/no/such/folder/plans.txt", "a file in a folder that exists"),
    ("EXPLAIN", "/", "a file in a folder that exists"),
])
def test_a_bad_knob_stops_the_rebuild_in_one_line_naming_it_with_exit_2(knob, value, rule, clean_env, capsys):
    clean_env.setenv(f"STYRKEDJA_REBUILD_{knob}", value)
    assert command.main(["--decoders", "0"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"styrkedja rebuild reporting: error: setting STYRKEDJA_REBUILD_{knob}: "), err
    assert rule in lines[0] and "Traceback" not in err
    if len(value) > 3:  # the value is not repeated (the kit's rule for settings: one may be a secret)
        assert value not in lines[0].split(": ", 2)[2], err


def test_the_reporting_service_refuses_them_as_its_other_settings(clean_env):
    """`styrkedja run` and the service read `ReportingSettings`: the same rule (the kit's start says it, exit 2)."""
    clean_env.setenv("STYRKEDJA_REBUILD_CONNECTIONS", "-3")
    with pytest.raises(ValidationError) as refused:
        ReportingSettings()
    assert [e["loc"] for e in refused.value.errors()] == [("rebuild_connections",)]


def test_good_values_are_taken(clean_env, tmp_path):
    for knob, value in (("CONNECTIONS", "3"), ("PASS_PARTS", " 5 "), ("WORKERS", "0"), ("WORK_MEM_MB", "321"),
                        ("GC_GEN0", "0"), ("KEEP_INDEXES", "1"), ("COPY_TEXT", "0"), ("LEVEL_PARTS", "true"),
                        ("EXPLAIN", str(tmp_path / "plans.txt"))):
        clean_env.setenv(f"STYRKEDJA_REBUILD_{knob}", value)
    knobs = RebuildSettings()
    assert (knobs.rebuild_connections, knobs.rebuild_pass_parts, knobs.rebuild_workers, knobs.rebuild_work_mem_mb,
            knobs.rebuild_gc_gen0, knobs.rebuild_keep_indexes, knobs.rebuild_copy_text,
            knobs.rebuild_explain, knobs.rebuild_level_parts) == (3, 5, 0, 321, 0, True, False, tmp_path / "plans.txt",
                                                                  True)
    rebuilder = bulk.Rebuilder(Any, group_id="g", handles=lambda _: True)  # type: ignore[arg-type]
    assert (rebuilder.connections, rebuilder.pass_parts, rebuilder.workers, rebuilder.work_mem_kb) == (3, 5, 0, 321 * 1024)
    rebuilder.begin_decoders(object(), 256_000)  # type: ignore[arg-type]
    assert rebuilder.as_text is False


def test_unset_or_empty_is_the_default(clean_env):
    clean_env.setenv("STYRKEDJA_REBUILD_PASS_PARTS", "")  # the bare reads took an empty variable as unset
    clean_env.setenv("STYRKEDJA_REBUILD_KEEP_INDEXES", " ")
    knobs = RebuildSettings()
    assert knobs.rebuild_pass_parts is None and knobs.rebuild_keep_indexes is False
    assert knobs.rebuild_level_parts is False  # the levels by one statement (after38)
    assert knobs.rebuild_copy_text is True and knobs.rebuild_gc_gen0 == GC_GEN0 and knobs.rebuild_explain is None
    rebuilder = bulk.Rebuilder(Any, group_id="g", handles=lambda _: True, connections=2)  # type: ignore[arg-type]
    assert (rebuilder.pass_parts, rebuilder.workers, rebuilder.work_mem_kb) == (2, 0, bulk.WORK_MEM_KB)


def test_the_flags_win_over_the_variables(clean_env, capsys):
    clean_env.setenv("STYRKEDJA_REBUILD_CONNECTIONS", "5")
    clean_env.setenv("STYRKEDJA_REBUILD_PASS_PARTS", "7")
    made: list[bulk.Rebuilder] = []

    class Seen(bulk.Rebuilder):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    clean_env.setattr(command, "Rebuilder", Seen)
    assert command.main(["--decoders", "0", "--connections", "2", "--pass-parts", "3"]) == 1  # no database: exit 1
    assert [(r.connections, r.pass_parts) for r in made] == [(2, 3)]
    made.clear()
    assert command.main(["--decoders", "0"]) == 1
    assert [(r.connections, r.pass_parts) for r in made] == [(5, 7)]
    capsys.readouterr()


def test_explain_goes_to_the_file_the_setting_names(clean_env, tmp_path):
    from styrkedja_reporting.rebuild import explain

    target = tmp_path / "plans.txt"
    clean_env.setenv("STYRKEDJA_REBUILD_EXPLAIN", str(target))
    bulk.Rebuilder(Any, group_id="g", handles=lambda _: True)  # type: ignore[arg-type]
    assert list(explain._TARGET) == [Path(target)]
    clean_env.delenv("STYRKEDJA_REBUILD_EXPLAIN")
    bulk.Rebuilder(Any, group_id="g", handles=lambda _: True)  # type: ignore[arg-type]
    assert not explain._TARGET
