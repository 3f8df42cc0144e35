"""`make run` says how to get a token for every role the services know."""

from __future__ import annotations

from pathlib import Path

from styrkedja_devstack.__main__ import TOKEN_ROLES, token_help
from styrkedja_kit.auth import Role


def test_make_run_prints_a_token_command_per_role() -> None:
    text = token_help(Path("/srv/.styrkedja"))
    assert "styrkedja token --state-dir /srv/.styrkedja" in text and "Authorization: Bearer" in text
    assert {r for r, _, _ in TOKEN_ROLES} >= {r.value for r in Role}
    for role in Role:
        assert f"--role {role.value} " in text, role


def test_the_printed_command_runs_without_an_activated_venv(tmp_path, monkeypatch) -> None:
    # `make run` runs .venv/bin/styrkedja with the venv not on PATH: a bare `styrkedja token` would not run
    import sys

    from styrkedja_devstack import __main__ as devstack_main

    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "styrkedja").write_text("#!/bin/sh\n")
    (venv_bin / "styrkedja").chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert devstack_main.styrkedja_command() == ".venv/bin/styrkedja"
    assert "TOKEN=$(.venv/bin/styrkedja token" in token_help(Path(".styrkedja"), devstack_main.styrkedja_command())
    monkeypatch.setenv("PATH", f"{venv_bin}:/usr/bin:/bin")  # activated: the plain name works
    assert devstack_main.styrkedja_command() == "styrkedja"
