"""The SS 12000 import against a running reporting service (round 33): an organiser the source has nothing of (a
token's other organiser) is listed without its memberships — asked `after` the last letter of a membership's key,
reporting's listing goes on past them in the database's own order (`command.held_but_memberships`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from inprocess import ORGANISER, RunningService
from test_import_round31 import FRISKOLAN, imported, token

from styrkedja_cli.ss12000 import command
from styrkedja_cli.ss12000.command import held, held_but_memberships

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


def test_reporting_lists_an_organiser_past_its_memberships_in_its_own_order(
        reporting: RunningService, token_issuer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with httpx.Client(base_url=reporting.url, headers=token(token_issuer, ORGANISER, FRISKOLAN), timeout=60) as client:
        imported(client, "huv", since=None)
        whole = held(client, ORGANISER)
        assert any(key.startswith("membership:") for key, _ in whole)
        monkeypatch.setattr(command, "CHUNK", 1)  # a page a key: the membership's page ends among them
        asked: list[httpx.URL] = []
        client.event_hooks["request"] = [lambda request: asked.append(request.url)]
        skimmed, skipped = held_but_memberships(client, ORGANISER)
    assert skipped and skimmed == [(key, source) for key, source in whole if not key.startswith("membership:")]
    assert [u.params.get("after") for u in asked].count("n") == 1
