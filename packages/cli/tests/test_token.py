"""`styrkedja token`: a token from the dev issuer's state dir that the kit's verifier accepts,
with the scope asked for; bad arguments are usage errors, not tracebacks."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
import typer
from typer.testing import CliRunner

from styrkedja_cli.main import app
from styrkedja_devstack.issuer import DevIssuer
from styrkedja_kit.auth import KeySource, Role, TokenVerifier, principal_from_claims

runner = CliRunner()


async def test_token_verifies_against_the_running_dev_issuer_and_survives_its_restart(tmp_path: Path) -> None:
    issuer = DevIssuer(tmp_path, port=None).start()
    try:
        result = runner.invoke(app, ["token", "--state-dir", str(tmp_path), "--role", "principal", "--organiser",
                                     "2180", "--school-unit", "12345678", "--group", "12345678/7A", "--ttl", "15m"])
        assert result.exit_code == 0, result.output
        token = result.output.strip()
        verifier = TokenVerifier(KeySource(issuer.url), audience="styrkedja", algorithms=["ES256"])
        principal = principal_from_claims(await verifier.verify(token))
        assert principal.roles == {Role.PRINCIPAL} and principal.school_units == {"12345678"}
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 900
        first_kid = issuer.minter.kid
    finally:
        issuer.stop()
    again = DevIssuer(tmp_path, port=None).start()  # the key is kept in the state dir
    try:
        assert again.minter.kid == first_kid
        assert oct((tmp_path / "issuer" / "key.pem").stat().st_mode & 0o777) == "0o600"
    finally:
        again.stop()


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    assert runner.invoke(app, ["token", "--state-dir", str(tmp_path), "--role", "king"]).exit_code == 2
    assert runner.invoke(app, ["token", "--state-dir", str(tmp_path), "--role", "teacher",
                               "--group", "7A"]).exit_code == 2
    forever = runner.invoke(app, ["token", "--state-dir", str(tmp_path), "--role", "teacher", "--ttl", "forever"])
    assert forever.exit_code == 2 and "--ttl" in forever.output
    missing = runner.invoke(app, ["token", "--state-dir", str(tmp_path), "--role", "teacher"])
    assert missing.exit_code == 2 and "styrkedja run" in missing.output


def test_the_longest_ttl_is_the_lifetime_the_services_take() -> None:
    """Failed on the old code: `--ttl 30d` minted a token the services' maximum lifetime refuses."""
    from styrkedja_cli.token import parse_ttl
    from styrkedja_kit.settings import MAX_TOKEN_LIFETIME_SECONDS, ServiceSettings

    assert ServiceSettings().auth_max_token_lifetime_seconds == MAX_TOKEN_LIFETIME_SECONDS
    assert parse_ttl("1d") == MAX_TOKEN_LIFETIME_SECONDS
    assert parse_ttl(f"{MAX_TOKEN_LIFETIME_SECONDS}s") == MAX_TOKEN_LIFETIME_SECONDS
    for too_long in ("2d", "30d", f"{MAX_TOKEN_LIFETIME_SECONDS + 1}s", "25h"):
        with pytest.raises(typer.BadParameter):
            parse_ttl(too_long)


def test_help_names_every_role() -> None:
    # the help is the newcomer's list of roles: one the kit knows but the help leaves out is never tried
    usage = " ".join(runner.invoke(app, ["token", "--help"], env={"COLUMNS": "200"}).output.split())
    missing = [role.value for role in Role if role.value not in usage]
    assert missing == []


@pytest.mark.parametrize("spelling", ["2120001234", "212000-1234", "162120001234"])
def test_an_organiser_is_signed_in_the_spelling_the_services_keep(tmp_path: Path, spelling: str) -> None:
    """Failed on the old code: `--organiser 2120001234` signed the claim as typed."""
    issuer = DevIssuer(tmp_path, port=None).start()
    try:
        result = runner.invoke(app, ["token", "--state-dir", str(tmp_path), "--role", "platform",
                                     "--organiser", spelling])
    finally:
        issuer.stop()
    assert result.exit_code == 0, result.output
    assert jwt.decode(result.output.strip(), options={"verify_signature": False})["organisers"] == ["212000-1234"]


@pytest.mark.parametrize("ttl", ["9" * 5000, "\u0661h", "\uff11h", "1h\n1"])
def test_a_ttl_of_too_many_or_other_digits_is_a_usage_error(tmp_path: Path, ttl: str) -> None:
    """Failed on the old code: 5,000 digits were a ValueError traceback (Python reads no int of over 4,300 digits);
    Arabic-Indic or fullwidth digits (`\\d`) were read as an hour."""
    result = runner.invoke(app, ["token", "--state-dir", str(tmp_path), "--role", "teacher", "--ttl", ttl])
    assert result.exit_code == 2 and "--ttl" in result.output and not isinstance(result.exception, ValueError)


@pytest.mark.parametrize("client_id", ["19121212-1212", "elev_19121212_1212", "a\x01b"])
def test_a_client_id_the_services_refuse_is_a_usage_error(tmp_path: Path, client_id: str) -> None:
    """Failed on the old code: `--client-id` was checked by no rule, and the token minted held a personnummer (or a
    control character) in `azp`, which every service refuses, and the dev issuer's output repeated it."""
    result = runner.invoke(app, ["token", "--state-dir", str(tmp_path), "--role", "platform", "--organiser", "2180",
                                 "--client-id", client_id])
    assert result.exit_code == 2 and "azp" in result.output
    assert "19121212" not in result.output
