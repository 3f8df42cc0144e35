"""`styrkedja demo` on the command line: listed, finds (or not) the directory import, and says what went
wrong instead of a traceback when the system is not running."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from styrkedja_cli.demo import _has_command
from styrkedja_cli.main import app
from styrkedja_devstack.postgres import free_port

runner = CliRunner()


def test_demo_is_a_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "demo" in result.output


def test_detects_commands_by_path() -> None:
    assert _has_command(app, ("run",))
    assert _has_command(app, ("import",))
    assert not _has_command(app, ("import", "no-such-source"))
    assert not _has_command(app, ("run", "deeper"))


def test_writes_the_dump_and_stops_cleanly_without_a_running_system(tmp_path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["demo", "--students", "60", "--dump-dir", str(tmp_path / "dump"), "--skip-import",
                                 "--assessment-url", dead, "--forecast-url", dead, "--lika-url", dead])
    assert result.exit_code == 1, result.output
    assert "demo stopped" in result.output and "Traceback" not in result.output
    organisations = json.loads((tmp_path / "dump" / "organisations.json").read_text(encoding="utf-8"))["data"]
    assert any(o["organisationType"] == "Huvudman" and o["municipalityCode"] == "2980" for o in organisations)


def test_runs_the_directory_import_when_the_command_exists(tmp_path) -> None:
    import typer

    from styrkedja_cli import demo

    calls = []
    other = typer.Typer()
    importer = typer.Typer()
    other.add_typer(importer, name="import")

    @importer.command("ss12000")
    def ss12000(dir: str = typer.Option(..., "--dir"), reporting_url: str = typer.Option(...)) -> None:
        calls.append((dir, reporting_url))

    demo.register(other)
    dead = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(other, ["demo", "--students", "60", "--dump-dir", str(tmp_path), "--reporting-url", dead,
                                   "--assessment-url", dead, "--forecast-url", dead, "--lika-url", dead])
    assert calls == [(str(tmp_path), dead)], result.output
    assert result.exit_code == 1  # nothing runs at `dead`: the import was reached, publishing stopped
