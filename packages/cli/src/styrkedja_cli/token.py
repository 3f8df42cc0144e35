"""`styrkedja token`: a signed token from the dev OIDC issuer that `styrkedja run` started."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

#: ASCII digits only (`\d` took other scripts' digits: `١h` was an hour), and few of them: Python refuses to read an
#: int of over 4,300 digits (a traceback, not a usage error), and any more than nine exceed a day in every unit
_TTL = re.compile(r"([0-9]{1,9})([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
from .options import folder


def parse_ttl(text: str) -> int:
    """At most what the services take by default (`auth_max_token_lifetime_seconds`: a day)."""
    from styrkedja_kit.settings import MAX_TOKEN_LIFETIME_SECONDS as MAX_TTL_SECONDS

    match = _TTL.fullmatch(text.strip())
    if not match:
        raise typer.BadParameter(f"{text!r}: use e.g. 90s, 15m, 1h, 1d", param_hint="--ttl")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not 0 < seconds <= MAX_TTL_SECONDS:
        raise typer.BadParameter(f"must be between 1 s and {MAX_TTL_SECONDS // 3600} h (the services' longest "
                                 "token lifetime)", param_hint="--ttl")
    return seconds


#: the option each claim comes from, to name it in a refusal
CLAIM_OPTIONS = {"sub": "--subject", "azp": "--client-id", "roles": "--role", "organisers": "--organiser",
                 "areas": "--area", "school_units": "--school-unit", "groups": "--group"}


def dev_minter(state_dir: Path) -> Any:
    """The dev issuer's minter from `state_dir` (FileNotFoundError when `styrkedja run` never started there). Its
    files damaged (an issuer.json that is no JSON, a key.pem that is no key or a folder) are a usage error naming
    --state-dir and the way out, not JSONDecodeError's or cryptography's traceback."""
    from styrkedja_devstack.issuer import TokenMinter

    try:
        return TokenMinter.from_state_dir(state_dir.resolve())
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise typer.BadParameter(
            f"the dev issuer's files in {state_dir / 'issuer'} are damaged ({type(error).__name__}); stop "
            f"`styrkedja run`, remove {state_dir / 'issuer'} and start it again (it makes a new key)",
            param_hint="--state-dir") from None


def register(app: typer.Typer) -> None:
    @app.command()
    def token(
        role: list[str] = typer.Option(..., "--role", help="platform, teacher, principal, ict_coordinator, "
                                                           "area_manager, organiser_admin, politician, public or "
                                                           "ops (repeatable)"),
        organiser: list[str] = typer.Option([], "--organiser", help="organiser id (repeatable)"),
        school_unit: list[str] = typer.Option([], "--school-unit", help="8-digit school unit code (repeatable)"),
        area: list[str] = typer.Option([], "--area", help="area id (repeatable)"),
        group: list[str] = typer.Option([], "--group", help="SCHOOLUNITCODE/GROUP (repeatable)"),
        subject: str | None = typer.Option(None, help="the token's `sub` (default: a random dev id)"),
        client_id: str | None = typer.Option(None, help="`azp`, for platform clients"),
        ttl: str = typer.Option("1h", help="lifetime: 90s, 15m, 1h, 1d (at most a day)"),
        state_dir: Path = typer.Option(Path(".styrkedja"), parser=folder, help="the state dir `styrkedja run` uses"),
    ) -> None:
        """Print a signed bearer token for the dev issuer (`make run` must have started once)."""
        from styrkedja_kit.auth import InvalidClaims, Role, principal_from_claims

        ttl_seconds = parse_ttl(ttl)
        known = {r.value for r in Role}
        for r in role:
            if r not in known:
                raise typer.BadParameter(f"{r!r} is not one of {', '.join(sorted(known))}", param_hint="--role")
        # `azp` too: the services refuse a token whose client id breaks the text rules (a personnummer, a control
        # character), so the command must not mint one
        claims = {"sub": subject or "dev", "azp": client_id, "roles": role, "organisers": organiser, "areas": area,
                  "school_units": school_unit, "groups": group}
        try:
            principal_from_claims(claims)
        except InvalidClaims as error:  # "school_units: '' is not …": said as the option it came from
            claim, _, rule = str(error).partition(": ")
            option = CLAIM_OPTIONS.get(claim)
            raise typer.BadParameter(f"{rule} (the token's `{claim}`)" if option else str(error),
                                     param_hint=option) from None
        try:
            from styrkedja_devstack.issuer import TokenMinter  # noqa: F401  (only: is the dev stack here)
        except ImportError:
            raise typer.BadParameter("the dev stack is not installed here: `make run` installs it") from None
        try:
            minter = dev_minter(state_dir)
        except FileNotFoundError as error:
            raise typer.BadParameter(str(error), param_hint="--state-dir") from None
        from styrkedja_contracts.identifiers import canonical_organiser_id

        # the token shows the spelling the services keep (they would read any spelling alike)
        organisers = [canonical_organiser_id(o) for o in organiser]
        typer.echo(minter.mint(roles=role, subject=subject, organisers=organisers, areas=area,
                               school_units=school_unit, groups=group, client_id=client_id,
                               ttl_seconds=ttl_seconds))
