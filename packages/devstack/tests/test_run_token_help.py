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
