"""Hostile round 33: by hand what a schema fuzzer does not send, on the four services' doors and reporting's consumer.

Tried and found held (no 5xx, a 4xx problem+json naming the field and the rule): duplicate keys, NaN, Infinity,
`1e400`, 5,000-digit integers, 10,000 levels of nesting, a UTF-8/UTF-16 BOM, lone surrogates, NUL (escaped and raw),
invalid UTF-8, trailing data; `text/plain`, `application/json; charset=latin-1`, `application/merge-patch+json`, none;
4 MiB + 1 and 5 MiB chunked without a length; HEAD, OPTIONS, TRACE, PROPFIND, an unknown method; repeated, empty,
unknown, full-width and RTL-marked query parameters; `%2F`, `%00`, `..`, `%2e%2e` and long path segments; 70 kB of
header and 300 headers; Basic, Digest and Negotiate, a JWT with `alg: none`, HS256 signed with the public key, a
`kid` of a path or SQL, `exp` as a string, `nbf` and `iat` ahead, another audience, a personal identity number in
`sub` or `organisers`. Found and mended:

- A tuple field with a `max_length` (the forecast calendar's windows, at most 2, and round deadlines, at most 4; the
  events' tuples) given too many items, one of them broken, was refused at the broken item alone: pydantic's tuple
  judges the items first and counts only those it took, so the request mended there was refused `too_long` next
  (round 32's leftover). A list refuses `too_long` alone; a tuple now does too (`events.base.add_length_first`, for
  events and request bodies alike).
- Reporting's `GET /v1/directory/units/{unit_id}?unit_type=group` without `school_unit_code` built its own 422
  (`required`, a rule its document named nowhere): now the kit's `RuleViolation` by a rule of its own, said in the
  parameter's description and the document's (`school_unit_code_for_group`).
- An event typed `…v01` was read as version 1 and dead-lettered "no upcaster from …v01 to v2", naming a version the
  event never had: a version's number is now written without leading zeros (`unknown_type`, "does not look like").
"""

from __future__ import annotations

import json

import httpx
import pytest
from inprocess import auth

from styrkedja_contracts import ContractError, decode_event
from styrkedja_contracts.examples import example_bytes

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

WINDOW = {"term": "HT", "iso_week": 43}
BROKEN_WINDOW = {"term": "VT", "iso_week": "x"}


def _service(running, wanted: str):
    name, service = running
    if name != wanted:
        pytest.skip(f"the {wanted} service's door")
    return service


@pytest.mark.parametrize("body, field", [
    ({"forecast_windows": [WINDOW, {"term": "VT", "iso_week": 13}, BROKEN_WINDOW]}, "forecast_windows"),
    ({"forecast_windows": [WINDOW, BROKEN_WINDOW, {"term": "VT", "iso_week": 13}]}, "forecast_windows"),
    ({"round_deadlines": [{"round": n % 4 + 1, "term": "HT", "iso_week": 40} for n in range(4)]
      + [{"round": "x", "term": "HT", "iso_week": 40}]}, "round_deadlines"),
], ids=["windows, the last broken", "windows, the middle broken", "round deadlines"])
def test_too_many_items_one_of_them_broken_is_refused_too_long(running, token_issuer, body, field):
    """Failed before: the broken item's `int_type` alone (`forecast_windows.2.iso_week`), no `too_long` at
    `forecast_windows`; mended there, the same request was refused `too_long`."""
    service = _service(running, "forecast")
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        response = client.put("/v1/calendars/2999", json=body)
    assert response.status_code == 422, response.text
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [(field, "too_long")], response.text


def test_a_group_read_as_one_unit_without_its_code_is_refused_by_a_rule_its_document_names(running, token_issuer):
    """Failed before: 422 `school_unit_code` / `required`, built by the route itself and named nowhere in the
    document (title "Invalid request" where every other rule across parameters is the kit's "Rule broken")."""
    service = _service(running, "reporting")
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        document = client.get("/openapi.json").json()
        refused = client.get("/v1/directory/units/7A", params={"organiser_id": "2999", "unit_type": "group"})
        across = client.get("/v1/support/summary", params={"level": "school_unit", "unit_id": "29990011"})
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (error["field"], error["rule"]) == ("school_unit_code", "school_unit_code_for_group"), error
    assert refused.json()["title"] == across.json()["title"], (refused.text, across.text)  # one kind of refusal
    parameters = document["paths"]["/v1/directory/units/{unit_id}"]["get"]["parameters"]
    code = next(p for p in parameters if p["name"] == "school_unit_code")
    assert "`school_unit_code_for_group`" in code["description"]
    assert "`school_unit_code_for_group`" in document["info"]["description"]


def test_a_type_whose_version_has_a_leading_zero_is_refused_by_its_spelling():
    """Failed before: `…v01` read as v1 and refused "no upcaster from …v01 to v2" (`v00` as v0 the same)."""
    document = json.loads(example_bytes("se.styrkedja.assessment.published.v1"))
    for version in ("v01", "v001", "v00"):
        value = json.dumps({**document, "type": f"se.styrkedja.assessment.published.{version}"}).encode()
        with pytest.raises(ContractError) as caught:
            decode_event(value)
        assert caught.value.reason == "unknown_type", caught.value.message
        assert "does not look like" in caught.value.message and "upcaster" not in caught.value.message, (
            caught.value.message)
