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


def test_a_demo_without_a_running_system_says_to_start_one(tmp_path) -> None:
    # the first thing a newcomer runs wrong: `make demo` before (or without) `make run`
    dead = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["demo", "--students", "60", "--dump-dir", str(tmp_path / "dump"),
                                 "--state-dir", str(tmp_path / "no-issuer"), "--reporting-url", dead])
    assert result.exit_code == 1 and "Traceback" not in result.output
    said = " ".join(result.output.split())
    assert "the directory import failed" in said and "make run" in said and dead in said, said


def test_runs_the_directory_import_when_the_command_exists(tmp_path) -> None:
    import typer

    from styrkedja_cli import demo

    calls = []
    other = typer.Typer()
    importer = typer.Typer()
    other.add_typer(importer, name="import")

    @importer.command("ss12000")
    def ss12000(dir: str = typer.Option(..., "--dir"), reporting_url: str = typer.Option(...),
                reporting_token: str | None = typer.Option(None)) -> None:
        calls.append((dir, reporting_url, reporting_token))

    demo.register(other)
    dead = f"http://127.0.0.1:{free_port()}"
    arguments = ["demo", "--students", "60", "--dump-dir", str(tmp_path), "--reporting-url", dead,
                 "--assessment-url", dead, "--forecast-url", dead, "--lika-url", dead]
    result = runner.invoke(other, [*arguments, "--state-dir", str(tmp_path / "no-issuer")])
    assert calls == [(str(tmp_path), dead, None)], result.output
    assert result.exit_code == 1  # nothing runs at `dead`: the import was reached, publishing stopped
    assert "no dev issuer" in result.output

    # with the dev issuer's key in the state dir, the import gets a platform client's token for Mittköping
    from styrkedja_devstack.issuer import DevIssuer, TokenMinter
    from styrkedja_kit.auth import Role, principal_from_claims

    issuer = DevIssuer(tmp_path / "state", port=None).start()
    try:
        result = runner.invoke(other, [*arguments, "--state-dir", str(tmp_path / "state")])
    finally:
        issuer.stop()
    assert result.exit_code == 1 and len(calls) == 2, result.output
    token = calls[1][2]
    assert token is not None
    import jwt

    minter = TokenMinter.from_state_dir(tmp_path / "state")
    claims = jwt.decode(token, minter.key.public_key(), algorithms=["ES256"], audience=minter.audience)
    principal = principal_from_claims(claims)
    assert principal.roles == {Role.PLATFORM} and principal.organisers == {"2980"}


def test_lika_is_written_with_each_units_principal_token(tmp_path) -> None:
    import jwt

    from styrkedja_demo.tokens import DemoTokens
    from styrkedja_devstack.issuer import DevIssuer
    from styrkedja_kit.auth import Role, principal_from_claims

    issuer = DevIssuer(tmp_path, port=None).start()
    try:
        tokens = DemoTokens.minted(issuer, "2980")
        assert tokens.principal is not None
        minter = issuer.minter
        assert minter is not None

        def who(token: str):
            return principal_from_claims(jwt.decode(token, minter.key.public_key(), algorithms=["ES256"],
                                                    audience=minter.audience))

        rektor = who(tokens.principal("12345678"))
        assert rektor.roles == {Role.PRINCIPAL} and rektor.school_units == {"12345678"}
        assert rektor.organisers == {"2980"}
        assert tokens.principal("12345678") == tokens.principal("12345678")  # one per unit
        assert who(tokens.principal("87654321")).school_units == {"87654321"}
        assert who(tokens.platform or "").roles == {Role.PLATFORM}
    finally:
        issuer.stop()


def test_a_dump_dir_that_cannot_be_a_folder_is_a_usage_error(tmp_path) -> None:
    """Failed on the old code: a `--dump-dir` naming a file (or a folder inside one) was a FileExistsError /
    NotADirectoryError traceback after the municipality was generated."""
    (tmp_path / "a-file").write_text("not a folder")
    for where in (tmp_path / "a-file", tmp_path / "a-file" / "dump"):
        result = runner.invoke(app, ["demo", "--students", "50", "--dump-dir", str(where), "--skip-import"])
        assert result.exit_code == 2 and "--dump-dir" in result.output, result.output
        assert not isinstance(result.exception, OSError)
