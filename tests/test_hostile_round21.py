"""Hostile inputs, round 21: where in a batch a value rule was broken, Accept ranges that are no ranges, and a fresh
sweep of queries, bodies, paths and headers on every service.

Found and fixed (each test failed on the old code, as said at it):
- A value rule (`check_text`: a noncharacter, a control character, a personal identity number) broken by a string
  inside a field holding an object or a list was named by the field alone: reporting's directory door said
  `items.1.data` for a noncharacter in item 1's `name`. Now the contracts' `enforce_value_rules` says where inside
  the field (`WHERE` in the error's context, read by the kit's problems, the contracts' own messages and the kit's
  `contract_violation`): `items.1.data.name`. A key breaking a rule is named by its object, never by itself (a key
  holding a personal identity number is not repeated by the location).
- `Accept: */json` (and `*/json;q=1, text/html`, `*/problem+json`) was answered in JSON by every operation of the four
  services: the `*` of a range no client can mean matched any type. Now only a media range (`*/*`, `type/*`,
  `type/subtype`, RFC 9110 §12.5.1) admits a type, anything else admits nothing: a 406 naming `Accept` where
  nothing else is admitted (the kit's `negotiation`). The dashboard answered every Accept with its page; now one
  admitting none of its types (HTML, CSV, xlsx, PDF, its probes' JSON) is a 406 page naming the header, and a weight
  that is no qvalue a 400 page (the kit's rule raised there would have been a 500: no problem handler).

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
from test_hostile_http import Attack, fill, operations
from test_hostile_round16 import dashboard  # noqa: F401  (the fixture)

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


#: Accept values that admit nothing: no media ranges, or ranges of no type an operation answers in
NO_RANGES = ["*/json", "*/json;q=1, text/html", "*/problem+json", "json", "application/json/x", "*/*/*", "/json",
             "a" * 8000, ", ".join(["*/json"] * 500)]


@pytest.mark.integration
@pytest.mark.postgres_only
def test_accept_values_that_are_no_media_ranges_are_a_406_naming_the_header_on_every_operation(running, token_issuer):
    """Failed on the old code: `*/json` answered in JSON by every operation of every service."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    try:
        for method, path, operation in operations(attack):
            body = {"content": b"{}", "headers": {"content-type": "application/json"}} if (
                "requestBody" in operation) else {"headers": {}}
            for accept in NO_RANGES:
                got = attack.client.request(method, fill(path), content=body.get("content"),
                                            headers={**body["headers"], "accept": accept})
                attack.judge(f"{method} {path} accept {accept[:40]}", got)
                named = got.json().get("errors", [{}])[0] if got.status_code == 406 else {}
                if (got.status_code, named.get("field"), named.get("rule")) != (406, "Accept", "not_acceptable"):
                    attack.wrong.append(f"{method} {path} accept {accept[:40]}: {got.status_code} {got.text[:120]!r}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
        assert attack.sent >= 20
    finally:
        attack.client.close()


DASHBOARD_PAGES = ["/", "/logga-in", "/kedjan", "/nedbrytning", "/larm", "/rapport", "/rapport.pdf", "/rapportering",
                   "/lika", "/lika/jamfor", "/kedjan/export.csv", "/larm/export.xlsx", "/healthz", "/readyz"]


def test_the_dashboard_answers_no_accept_with_a_500_and_one_admitting_none_of_its_types_with_a_406(
        dashboard):  # noqa: F811
    """Failed on the old code: every one of these answered the page (200 or the sign-in's 303)."""
    client, _ = dashboard
    for page in DASHBOARD_PAGES:
        for accept in [*(a for a in NO_RANGES if "text/html" not in a), "application/xml", "image/png",
                       "text/html;q=0, */*;q=0"]:
            got = client.get(page, headers={"accept": accept}, follow_redirects=False)
            assert got.status_code == 406, (page, accept[:40], got.status_code)
            assert "Accept" in got.text
        for accept in ["text/html;q=NaN", "*/*;q=2"]:
            got = client.get(page, headers={"accept": accept}, follow_redirects=False)
            assert got.status_code == 400 and "Accept" in got.text, (page, accept, got.status_code)
        for accept in ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "*/*", "text/*",
                       b"*/*;charset=\xff"]:
            got = client.get(page, headers={"accept": accept}, follow_redirects=False)
            assert got.status_code < 500 and got.status_code not in (400, 406), (page, accept, got.status_code)
