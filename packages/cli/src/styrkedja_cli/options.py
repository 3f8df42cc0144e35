"""Option types several commands share."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import typer
from typer._click.core import ParameterSource
from typer._click.exceptions import UsageError


def folder(text: str | Path) -> Path:
    """A folder option's value (typer's `parser`: it gets the text typed). An empty one (`--state-dir "$DIR"` with
    DIR unset) was the current folder: `demo --dump-dir ""` wrote its six JSON files over any of those names there,
    `run --state-dir ""` would put PostgreSQL's data and the logs there."""
    if not str(text).strip():
        raise typer.BadParameter("is empty, which would be the current folder: name a folder")
    return Path(text)


def given_as(ctx: typer.Context, name: str, option: str) -> str:
    """What the user gave for the option `name` (`--reporting-url`), to name in what is said of its value: the variable
    of the environment the option reads (its `envvar`) when the value came from there. `STYRKEDJA_REPORTING_URL=http://`
    was told "--reporting-url: an http:// or https:// URL with a host", an option never typed."""
    if ctx.get_parameter_source(name) is ParameterSource.ENVIRONMENT:
        envvar = next((p.envvar for p in ctx.command.params if p.name == name), None)
        if isinstance(envvar, str):
            return envvar
    return option


class SettingRefused(UsageError):
    """A variable of the environment a command reads by hand (not a pydantic setting) that breaks its rule: one line
    naming it and the rule (`main._say`), exit 2, before the command does anything."""


def switch_setting(variable: str, environ: Mapping[str, str] | None = None) -> bool:
    """A switch of the environment, by the rule of the others (the test plugin's `switch`, `styrkedja run`'s): `1` on,
    `0` or unset off, any other text refused naming the variable (`STYRKEDJA_TRACEBACK=yes` or `=true` was off,
    silently: only `1` was read)."""
    text = (os.environ if environ is None else environ).get(variable, "").strip()
    if text not in ("", "0", "1"):
        raise SettingRefused(f"${variable} takes 1 (on) or 0 (off), not {text[:40]!r}")
    return text == "1"
