"""Option types several commands share."""

from __future__ import annotations

from pathlib import Path

import typer


def folder(text: str | Path) -> Path:
    """A folder option's value (typer's `parser`: it gets the text typed). An empty one (`--state-dir "$DIR"` with
    DIR unset) was the current folder: `demo --dump-dir ""` wrote its six JSON files over any of those names there,
    `run --state-dir ""` would put PostgreSQL's data and the logs there."""
    if not str(text).strip():
        raise typer.BadParameter("is empty, which would be the current folder: name a folder")
    return Path(text)
