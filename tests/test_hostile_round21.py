"""Hostile inputs, round 21: where in a batch a value rule was broken, Accept ranges that are no ranges, and a fresh
sweep of queries, bodies, paths and headers on every service.

Found and fixed (each test failed on the old code, as said at it):
- A value rule (`check_text`: a noncharacter, a control character, a personal identity number) broken by a string
  inside a field holding an object or a list was named by the field alone: reporting's directory door said
  `items.1.data` for a noncharacter in item 1's `name`. Now the contracts' `enforce_value_rules` says where inside
  the field (`WHERE` in the error's context, read by the kit's problems, the contracts' own messages and the kit's
  `contract_violation`): `items.1.data.name`. A key breaking a rule is named by its object, never by itself (a key
  holding a personal identity number is not repeated by the location).

(The round's other findings, each tested in the kit: CORS decided by one pure rule equal to Starlette's, the
requested headers on two lines judged whole and `Origin` sent twice refused (packages/kit/tests/test_cors.py); one
client's share of the writes and files (test_client_bounds.py); /readyz on a connection of its own
(test_readiness.py).)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from inprocess import ORGANISER, auth

from styrkedja_contracts.examples import example_bytes

UNIT = "se.styrkedja.organisation.unit_upserted.v1"


@pytest.fixture
def client(running: Any, token_issuer: Any) -> Iterator[tuple[str, httpx.Client]]:
    name, service = running
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=120) as http:
        yield name, http


def _rules(answer: httpx.Response) -> list[tuple[str, str]]:
    return [(e["field"], e["rule"]) for e in answer.json()["errors"]]


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_value_rule_broken_inside_a_batch_items_data_names_the_item_and_the_key(client):
    """Failed on the old code: `items.1.data` for each (the rule held at the whole `data` object)."""
    name, http = client
    if name != "reporting":
        pytest.skip("the directory's door: a batch whose items hold objects")
    data = {**json.loads(example_bytes(UNIT))["data"], "organiser_id": ORGANISER, "unit_id": "grp-round-21"}
    for key, value, rule in [("name", "Skola\ufffe", "no_noncharacters"), ("unit_id", "x\u202e", "no_control_characters"),
                             ("name", "Skola 19121212-1212", "no_personal_identity_number")]:
        answer = http.post("/v1/directory/changes", json={"items": [
            {"type": UNIT, "data": data}, {"type": UNIT, "data": {**data, key: value}}]})
        assert answer.status_code == 422, answer.text
        assert _rules(answer) == [(f"items.1.data.{key}", rule)], (key, answer.text)
        assert "19121212" not in answer.text
    # a key holding a personal identity number: named by its object, the key never repeated
    answer = http.post("/v1/directory/changes", json={"items": [{"type": UNIT, "data": {**data, "19121212-1212": "x"}}]})
    assert answer.status_code == 422 and _rules(answer) == [("items.0.data", "no_personal_identity_number")], answer.text
    assert "19121212" not in answer.text
