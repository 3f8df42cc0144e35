"""Operations commands (`migrate`, `replay`, `topics`): the kit's ops CLI under the one command.

The container images and Kubernetes Jobs call `python -m styrkedja_kit ...` directly; these are the
same commands with the same arguments, so an operator has one name to remember.
"""

from __future__ import annotations

import typer

_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def _kit(command: str, ctx: typer.Context) -> None:
    from styrkedja_kit.__main__ import main as kit_main

    raise typer.Exit(kit_main([command, *ctx.args], prog="styrkedja"))


def register(app: typer.Typer) -> None:
    @app.command(context_settings=_PASS_THROUGH)
    def migrate(ctx: typer.Context) -> None:
        """Bring a service's database to the newest schema: migrate <service-package> [--check [--wait S]]."""
        _kit("migrate", ctx)

    @app.command(context_settings=_PASS_THROUGH)
    def replay(ctx: typer.Context) -> None:
        """Mark outbox rows written since a time for republishing: replay --since TIME [--topic T] [--dry-run]."""
        _kit("replay", ctx)

    @app.command(context_settings=_PASS_THROUGH)
    def topics(ctx: typer.Context) -> None:
        """Create the registry's missing topics: topics [--dead-letter-group G ...]."""
        _kit("topics", ctx)
