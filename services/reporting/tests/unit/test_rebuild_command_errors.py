"""`styrkedja rebuild reporting` refuses what it cannot do in one line, not a traceback (issue 16, rebuild18): an
argument out of range (a negative `--chunk` ran the directory's handler over no batch at all: `range` with a negative
step is empty) is argparse's error, exit 2; no broker or no database answering is said as such, exit 1, before
anything was changed."""

from __future__ import annotations

import socket

import pytest

from styrkedja_reporting.rebuild import command


def closed_port() -> int:
    """A local port nothing listens on (bound, never listening: a connection is refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("argv", "says"), [
    (["--chunk", "-1"], "argument --chunk: -1 is below 1"),
    (["--chunk", "0"], "argument --chunk: 0 is below 1"),
    (["--decoders", "-2"], "argument --decoders: -2 is below 0"),
    (["--connections", "0"], "argument --connections: 0 is below 1"),
    (["--pass-parts", "0"], "argument --pass-parts: 0 is below 1"),
    (["--pass-parts", "100000"], "argument --pass-parts: 100000 is above 64"),
    (["--chunk", "many"], "argument --chunk: 'many' is not a whole number"),
])
def test_an_argument_out_of_range_is_refused_with_exit_2(argv, says, monkeypatch, capsys):
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{closed_port()}/styrkedja_reporting")
    with pytest.raises(SystemExit) as stopped:
        command.main(argv)
    assert stopped.value.code == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize(("dead_letter", "says"), [
    # the ops commands' one rule (`styrkedja_kit.reach`): the database is asked first, then the broker
    (True, "the database at 127.0.0.1:{database} (database styrkedja_reporting) refused the connection"),
    (False, "the database at 127.0.0.1:{database} (database styrkedja_reporting) refused the connection"),
])
def test_no_broker_or_no_database_is_said_in_one_line_with_exit_1(dead_letter, says, monkeypatch, capsys):
    broker, database = closed_port(), closed_port()
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", f"postgresql://u:secret@127.0.0.1:{database}/styrkedja_reporting")
    monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{broker}")
    argv = ["--decoders", "0", *([] if dead_letter else ["--no-dead-letter"])]
    assert command.main(argv) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("styrkedja rebuild reporting: ")]
    assert len(lines) == 1 and says.format(broker=broker, database=database) in lines[0], err
    assert "nothing was changed" in lines[0] and "its address is set by STYRKEDJA_DATABASE_URL" in lines[0]
    assert "Traceback" not in err and "secret" not in err


@pytest.mark.parametrize(("argv", "says"), [
    (["--decoders", "1000000"], "argument --decoders: 1000000 is above 64"),
    (["--connections", "100000"], "argument --connections: 100000 is above 64"),
    (["--stall-seconds", "99999999999999"], "argument --stall-seconds: 99999999999999 is above 86400"),
    (["--chunk", "9" * 5000], "argument --chunk: '" + "9" * 40 + "…' is not a whole number"),
    (["--chunk", "\u0661\u0660"], "is not a whole number"),
])
def test_an_argument_beyond_what_the_machine_can_take_is_refused_with_exit_2(argv, says, monkeypatch, capsys):
    """Failed on the old code: `--decoders 1000000` was taken (a process forked for every chunk in flight, up to two
    million), as were `--connections 100000` and a stall of three million years; `--chunk` of 5,000 digits was
    repeated whole in the error, and Arabic-Indic digits were read as a number."""
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{closed_port()}/styrkedja_reporting")
    with pytest.raises(SystemExit) as stopped:
        command.main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "9" * 100 not in err
