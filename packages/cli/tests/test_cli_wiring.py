"""The `styrkedja` command lists its commands and passes ops commands through to the kit."""

from __future__ import annotations

from typer.testing import CliRunner

from styrkedja_cli.main import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "migrate", "replay", "topics", "import"):
        assert command in result.output


def test_ops_command_reaches_the_kit_and_keeps_its_exit_code(monkeypatch) -> None:
    monkeypatch.delenv("STYRKEDJA_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["replay", "--since", "2026-01-01T00:00:00+00:00"])
    assert result.exit_code == 2  # the kit's usage error: no database URL configured


def test_import_ss12000_needs_exactly_one_source(tmp_path) -> None:
    assert "--page-size" in runner.invoke(app, ["import", "ss12000", "--help"]).output
    both = runner.invoke(app, ["import", "ss12000", "--url", "http://x", "--dir", str(tmp_path)])
    assert both.exit_code == 2
    missing = runner.invoke(app, ["import", "ss12000", "--dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "not a folder" in " ".join(missing.output.split())


def test_rebuild_reporting_is_under_the_one_command() -> None:
    assert "reporting" in runner.invoke(app, ["rebuild", "--help"]).output
    usage = runner.invoke(app, ["rebuild", "reporting", "--help"])  # reporting's own arguments
    assert usage.exit_code == 0 and "--chunk" in usage.output and "--no-dead-letter" in usage.output


def test_import_ss12000_page_limits_are_flags_with_bounds(tmp_path, monkeypatch) -> None:
    """`--page-seconds` and `--max-pages` reach the HTTP source; a value out of bounds (or not a number, or nan)
    is a usage error naming the flag, before anything is read."""
    from styrkedja_cli.ss12000 import command

    usage = " ".join(runner.invoke(app, ["import", "ss12000", "--help"]).output.split())
    assert "--page-seconds" in usage and "--max-pages" in usage
    for flag, value in (("--page-seconds", "0"), ("--page-seconds", "nan"), ("--page-seconds", "inf"),
                        ("--page-seconds", "-1"), ("--page-seconds", "1e308"), ("--page-seconds", "x"),
                        ("--max-pages", "0"), ("--max-pages", "-5"), ("--max-pages", "10000001"),
                        ("--max-pages", "1.5"), ("--max-pages", "99999999999999999999999")):
        refused = runner.invoke(app, ["import", "ss12000", "--url", "http://127.0.0.1:9", flag, value])
        assert refused.exit_code == 2, (flag, value, refused.output)
        assert flag in " ".join(refused.output.split()), (flag, value, refused.output)
    made = {}

    class Source:
        def __init__(self, url, token, **kwargs) -> None:
            made.update(kwargs)
            raise command.SourceError("stop here")

    monkeypatch.setattr(command, "HttpSource", Source)
    ran = runner.invoke(app, ["import", "ss12000", "--url", "http://x", "--page-seconds", "30", "--max-pages", "7"])
    assert ran.exit_code == 1 and made["page_seconds"] == 30.0 and made["max_pages"] == 7, ran.output


def test_ops_help_is_named_for_the_one_command_and_says_which_database(monkeypatch) -> None:
    # a newcomer types `styrkedja replay`: the usage must show that name, and the URL `make run` serves
    usage = " ".join(runner.invoke(app, ["replay", "--help"]).output.split())
    assert usage.startswith("usage: styrkedja replay") and "python -m" not in usage
    assert "postgresql://postgres@127.0.0.1:55432/styrkedja_<service>" in usage.replace(" ", "")  # wrapped
    monkeypatch.delenv("STYRKEDJA_DATABASE_URL", raising=False)
    refused = runner.invoke(app, ["replay", "--since", "2026-01-01T00:00:00+00:00"])
    assert refused.exit_code == 2
    assert "127.0.0.1:55432/styrkedja_<service>" in "".join(refused.output.split())


def test_rebuild_reporting_help_warns_first_and_refuses_without_its_database(monkeypatch) -> None:
    usage = " ".join(runner.invoke(app, ["rebuild", "reporting", "--help"]).output.split())
    assert "Stop the reporting service's consumer first" in usage
    assert "styrkedja_reporting" in usage
    monkeypatch.delenv("STYRKEDJA_DATABASE_URL", raising=False)
    refused = runner.invoke(app, ["rebuild", "reporting"])
    # one line naming the variable, not asyncpg's traceback about a database called "styrkedja"
    assert refused.exit_code == 2, refused.output
    assert "STYRKEDJA_DATABASE_URL is not set" in refused.output and "Traceback" not in refused.output
