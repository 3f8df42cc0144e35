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
- A body holding `NaN` (or a key given twice) before a fault that makes it no JSON at all (`{"items": [{"year":
  NaN}], "revision": -NaN}`, `{"a": 1, "a": 2} x`, `[NaN, [[[…`) was a 500 on every batch door (and on any body a
  route reads): the scan stopped at the NaN, and finding where it stood parsed the whole body again, which raised.
  Now such a body is left to the route's parser, which names it (`body`, `json_invalid`).
- A 401 named no field and no rule when the `Authorization` header was missing, malformed (`Basic …`, bytes that are
  no text), sent twice, or its token refused as a whole: the only refusals left that did not. Now every 401 names
  `Authorization` (or the claim at fault, as before) and a rule: `bearer_token_required`, `bearer_scheme`,
  `single_header`, or the RFC 6750 code (`invalid_token`).

Tried and held (swept here on every operation of every service, each 4xx judged to name a field and a rule): integers
past every bound in each query and path parameter (2^63, 26 digits, `1e3`, `0x10`, `NaN`, `Infinity`, `-0`,
full-width and Arabic-Indic digits), each query parameter given twice; ids in a path in decomposed Unicode, as a
ligature, with the Kelvin sign or 5,000 characters long (ids are ASCII: refused by their pattern, never normalised
into another id); a path of 40,000 characters; bytes that are no UTF-8 in `Content-Type`, `Accept`, `Origin`,
`Accept-Language`, `If-None-Match`, `Cookie`, `User-Agent` and an unknown header; `NaN` and `-NaN` nested in an item,
`1e400`, integers of 20 digits, an array nested 5,000 deep inside a field, a key that is no UTF-8, a key given twice
once spelled with an escape (`organiser\u005fid`: `duplicate_key`), a decomposed and a composed key (two unknown
keys, each named).

(The round's other findings, each tested in the kit: CORS decided by one pure rule equal to Starlette's, the
requested headers on two lines judged whole and `Origin` sent twice refused (packages/kit/tests/test_cors.py); one
client's share of the writes and files (test_client_bounds.py); /readyz on a connection of its own
(test_readiness.py).)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

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


#: integers and numbers past every bound, and digits that are not ASCII
HUGE = ["99999999999999999999999999", str(2**63), str(2**31), "-0", "1e3", "0x10", "NaN", "Infinity", "-1", "1.0",
        "\uff11", "\u0662", "+1", " 1"]
#: ids in other forms of Unicode: decomposed, a ligature, the Kelvin sign, full-width digits, very long
ODD_IDS = ["A\u030a", "\ufb01", "\u212a", "\uff12\uff19\uff19\uff19", "x" * 5000]
BAD_UTF8 = b"\xff\xfe\xc0\xaf"
ODD_BODIES = [b'{"items": [{"year": NaN}], "revision": -NaN}', b'{"revision": 1e400}',
              b'{"items": [{"year": 99999999999999999999}], "revision": -99999999999999999999}',
              b'{"items": [{"unmet_criteria": ' + b"[" * 5000 + b"]" * 5000 + b"}]}", b'{"\xff": 1}',
              b'{"organiser_id": "2999", "organiser\\u005fid": "3000"}',
              '{"n\u00e4me": "a", "na\u0308me": "b"}'.encode(), b'{"items": [], "items": []} x',
              b'{"items": [{"year": NaN}]} x', b"[NaN, " + b"[" * 100_000]


def _names_field_and_rule(attack: Attack, what: str, method: str, url: str, **sent: Any) -> None:
    """Every 4xx a problem whose every error names a field and a rule; never a 5xx, never the connection dropped."""
    try:
        answer = attack.client.request(method, url, **sent)
    except httpx.HTTPError as error:  # the server hung up: a crash as far as a client can tell
        attack.wrong.append(f"{what}: {type(error).__name__}: {error}")
        return
    attack.judge(what, answer)
    if 400 <= answer.status_code < 500:
        errors = answer.json().get("errors") if answer.headers.get("content-type", "").startswith(
            "application/problem+json") else None
        if not errors or not all(e.get("field") and e.get("rule") for e in errors):
            attack.wrong.append(f"{what}: {answer.status_code} names no field and rule: {answer.text[:160]!r}")


@pytest.mark.integration
@pytest.mark.postgres_only
def test_hostile_queries_paths_headers_and_bodies_are_each_a_4xx_naming_the_field_and_the_rule(running, token_issuer):
    """Failed on the old code: every operation's 401 for an `Authorization` header of bytes that are no text (and a
    missing or malformed one) named no field and no rule."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    try:
        for method, path, operation in operations(attack):
            url = fill(path)
            has_body = "requestBody" in operation
            sent: dict[str, Any] = {"content": b"{}", "headers": {"content-type": "application/json"}} if has_body \
                else {"headers": {}}
            for parameter in operation.get("parameters", []):
                where, named = parameter.get("in"), parameter["name"]
                if where == "query":
                    for value in [*HUGE, ODD_IDS[0]]:
                        _names_field_and_rule(attack, f"{method} {path}?{named}={value[:20]!r}", method,
                                              f"{url}?{named}={quote(value)}", **sent)
                    _names_field_and_rule(attack, f"{method} {path}?{named} twice", method,
                                          f"{url}?{named}=1&{named}=2", **sent)
                elif where == "path":
                    for value in [*HUGE[:4], *ODD_IDS]:
                        _names_field_and_rule(attack, f"{method} {path} {named}={value[:20]!r}", method,
                                              fill(path, **{named: quote(value, safe="")}), **sent)
            _names_field_and_rule(attack, f"{method} {path} long path", method, url + "/x" * 20_000, **sent)
            for header in ["authorization", "content-type", "accept", "origin", "accept-language", "if-none-match",
                           "cookie", "user-agent", "x-unknown"]:
                _names_field_and_rule(attack, f"{method} {path} {header} not UTF-8", method, url,
                                      content=sent.get("content"), headers={**sent["headers"], header: BAD_UTF8})
            for header in ["Basic eDp5", "Bearer", ""]:
                _names_field_and_rule(attack, f"{method} {path} authorization {header!r}", method, url,
                                      content=sent.get("content"), headers={**sent["headers"], "authorization": header})
            if has_body:
                for body in ODD_BODIES:
                    _names_field_and_rule(attack, f"{method} {path} body {body[:30]!r}", method, url, content=body,
                                          headers={"content-type": "application/json"})
        assert not attack.wrong, f"{name}: {len(attack.wrong)} of {attack.sent} wrong:\n" + "\n".join(attack.wrong[:20])
        assert attack.sent >= 100, attack.sent
    finally:
        attack.client.close()
