"""`styrkedja` as a hostile operator runs it, through the installed entry point (`main`, what `run_cli` exits
with), where the earlier tests called the typer app: a bad STYRKEDJA_* setting, a personal identity number typed
where an argument goes, a malformed URL, a state dir that is a file, Ctrl-C. Each is one readable line and an exit
code, never a traceback, and no personnummer in any spelling repeated."""

from __future__ import annotations

from pathlib import Path

import pytest

from styrkedja_cli.main import main

PIN = "19121212-1212"  # Skatteverket's test personnummer, and spellings of it
PIN_SPELLINGS = (PIN, "191212121212", "121212-1212")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("argv", [["replay", "--since", "2026-01-01T00:00:00Z"], ["topics"],
                                  ["migrate", "styrkedja_assessment", "--check"], ["rebuild", "reporting"]])
def test_a_setting_pydantic_refuses_is_one_line_per_variable(argv: list[str], capsys, monkeypatch) -> None:
    """Failed on the old code: `STYRKEDJA_DATABASE_POOL_SIZE=abc styrkedja replay …` was pydantic's ValidationError
    as a rich traceback, exit 1."""
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", "postgresql+asyncpg://u:secret@127.0.0.1:9/db")
    monkeypatch.setenv("STYRKEDJA_DATABASE_POOL_SIZE", "abc")
    monkeypatch.setenv("STYRKEDJA_OUTBOX_BATCH_SIZE", "0")
    code, output = _run(capsys, *argv)
    assert code == 2, output
    lines = output.strip().splitlines()
    assert any(line.startswith("styrkedja: setting STYRKEDJA_DATABASE_POOL_SIZE: ") and "integer" in line
               for line in lines), output
    assert any(line.startswith("styrkedja: setting STYRKEDJA_OUTBOX_BATCH_SIZE: ") for line in lines), output
    assert "Traceback" not in output and "abc" not in output and "validation error" not in output


@pytest.mark.parametrize("spelling", PIN_SPELLINGS)
@pytest.mark.parametrize("argv", [["token", "--role", "{}"], ["token", "--role", "teacher", "--ttl", "{}"],
                                  ["no-such-{}"], ["token", "--role", "teacher", "--x{}"]])
def test_a_usage_error_repeats_no_personal_identity_number(argv: list[str], spelling: str, capsys,
                                                           tmp_path: Path) -> None:
    """Failed on the old code: `styrkedja token --role 19121212-1212` (an operator's slip) answered "Invalid value
    for --role: '19121212-1212' is not one of …" on the terminal, so too an unknown command or option."""
    code, output = _run(capsys, *(a.format(spelling) for a in argv), "--state-dir", str(tmp_path))
    assert code == 2, output
    assert spelling not in output and spelling.replace("-", "") not in output.replace("-", ""), output
    assert "[REDACTED]" in output


@pytest.mark.parametrize("option", ["--assessment-url", "--forecast-url", "--lika-url", "--reporting-url"])
@pytest.mark.parametrize("url", ["notaurl", "", "http://[::1", "http://127.0.0.1:99999", "http://a\x01b",
                                 "ftp://127.0.0.1:8101", "http://:8101"])
def test_a_malformed_service_url_is_a_usage_error_before_anything_is_written(option: str, url: str, capsys,
                                                                            tmp_path: Path) -> None:
    """Failed on the old code: the demo generated and wrote the dump, then stopped with "is the system running?"
    (exit 1) for `notaurl` or `http://[::1`, and `http://127.0.0.1:99999` was an OverflowError traceback."""
    dump = tmp_path / "dump"
    code, output = _run(capsys, "demo", "--students", "50", "--dump-dir", str(dump), "--state-dir", str(tmp_path),
                        "--skip-import", option, url)
    assert code == 2, output
    assert option in output and "Traceback" not in output and "OverflowError" not in output
    assert not dump.exists()
