"""`styrkedja run`: the whole system on one machine (embedded PostgreSQL and broker)."""

from __future__ import annotations

from pathlib import Path

import typer

from .options import folder


def register(app: typer.Typer) -> None:
    @app.command()
    def run(state_dir: Path = typer.Option(Path(".styrkedja"), parser=folder, help="where PostgreSQL, the broker and logs keep "
                                                                    "their state")) -> None:
        """Start PostgreSQL, the broker and the services, print their URLs, and run until Ctrl-C."""
        try:
            from styrkedja_devstack.__main__ import run as run_stack
        except ImportError:
            raise typer.BadParameter("the dev stack is not installed here: `make run` installs it") from None
        raise typer.Exit(run_stack(state_dir.resolve()))
