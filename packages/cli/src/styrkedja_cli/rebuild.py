"""`styrkedja rebuild reporting`: rebuild reporting's database from the event log in bulk.

The command is reporting's own (`python -m styrkedja_reporting.rebuild`, also in its container image);
here it is under the one command. It reads the settings of the reporting service from the environment
(`STYRKEDJA_DATABASE_URL`, `STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS`, ...)."""

from __future__ import annotations

import importlib

import typer

_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def register(app: typer.Typer) -> None:
    rebuild_app = typer.Typer(no_args_is_help=True, help="Rebuild a service's derived state from the event log.")
    app.add_typer(rebuild_app, name="rebuild")

    @rebuild_app.command(context_settings=_PASS_THROUGH)
    def reporting(ctx: typer.Context) -> None:
        """Reporting from every topic's start, in one transaction, with progress: reporting [--chunk N]
        [--decoders N] [--connections N] [--json] [--no-dead-letter]. Stop reporting's consumer first;
        needs STYRKEDJA_DATABASE_URL (reporting's database). `styrkedja rebuild reporting --help` for more."""
        try:  # the service's package, not a dependency of the command: present where reporting runs
            command = importlib.import_module("styrkedja_reporting.rebuild.command")
        except ModuleNotFoundError as missing:
            typer.echo("styrkedja rebuild reporting needs the reporting service installed (styrkedja-reporting)",
                       err=True)
            raise typer.Exit(2) from missing
        raise typer.Exit(command.main(list(ctx.args)))
