"""Wiring of the `styrkedja` command: every sub-command is defined in its own module."""

from __future__ import annotations

import typer

from . import demo, ops, rebuild, stack, token
from .ss12000 import command as ss12000

app = typer.Typer(name="styrkedja", no_args_is_help=True, add_completion=False,
                  help="Styrkedja: the governance chain of Swedish schools, from the student to the nation.")
import_app = typer.Typer(no_args_is_help=True, help="Bring data in from other systems.")
app.add_typer(import_app, name="import")

stack.register(app)
ss12000.register(import_app)
ops.register(app)
rebuild.register(app)
token.register(app)
demo.register(app)


def run_cli() -> None:
    app()
