"""Hostile round 31: what the stateful schemathesis campaign (tests/campaign31_local.py: every check, every phase,
each role of two organisers and no token) found in the four services.

- A method a path does not answer, sent with a body, was judged by its body first: `GET /v1/forecasts` (POST only)
  with a JSON body was a 400 `no_body` (a GET takes none), `DELETE /v1/calendars/{organiser_id}` the same, and a
  POST with a body no route reads as JSON to a GET-only path a 415 — where without a body each is a 405 with its
  `Allow`. The method is refused whatever the body: the `RequestGuard` now leaves a request whose path does not
  answer its method to routing (405, or 404 for a path of none), and judges bodies only of methods the path answers.
- Schema-valid requests refused by rules no document said (positive_data_acceptance): the text rules (a control
  character, `"\u0085"`, in a query `owner`; a blank `reason`; `3109847800` as an organiser id read as a personal
  identity number), the lists and the calendar behind a pattern (a subject code not on Skolverket's list, a school
  year `0000/00`). No JSON Schema keyword says them: every document now says them in words once at the top
  (`TEXT_RULES`, as round 27 did for integers), each rule by the name its 422 gives.
- LIKA's `start_term` (publish, keep private) was documented as any string of at most 16 characters, and a generated
  `"0"` was a 422 `term_format`: its document now gives the pattern (`HT 2026/27`) and says the rest in words.
- The forecast service's calendar: two HT windows (schema-valid: two items of the window schema) was a 422 naming
  `body` and `value_error`, the field only in the message; a round given twice the same. Each is now its field's
  rule (`forecast_windows`: `one_window_per_term`, `round_deadlines`: `one_deadline_per_round`), and the request's
  document says the first as `contains` (one HT, one VT) and the second in words. Once the windows were documented the
  campaign went deeper: a time zone no IANA zone was `value_error` (now `unknown_time_zone`, said in the document),
  and a week outside its term (`week_in_term`) is now in each item's schema.
- Reporting: a directory change's `data` was documented as any object (`{}` for a duty, schema-valid, a 422 for each
  field its contract requires): the document now gives each type's contract as a branch (`oneOf` on `type`). The
  thresholds' points took at most four decimals unannounced (`decimal_max_places`), and the rules across a read's
  parameters (`unit_id` at organiser level, now `organiser_unit_id` rather than pydantic's `string_pattern_mismatch`;
  `required_below_nation`; `school_year_with_term`) were said nowhere: now in the parameters' and the document's
  descriptions (`READ_RULES`).
- LIKA: an action-plan item's edit `{}` (every field optional in the document) was a 422 `nothing_to_change`: the
  document now requires at least one field to change (`anyOf` of one `required` each). And a path parameter holding
  an encoded `\\` (`%5C`), a 400 `encoded_separator` in every service, is said in `TEXT_RULES` too.
"""

from __future__ import annotations

import httpx
import pytest
from inprocess import auth

from styrkedja_kit.parameters import TEXT_RULES

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
UUID = "00000000-0000-4000-8000-000000000001"
_VALUES = {"organiser_id": "2999", "school_unit_code": "29990011"}


def _concrete(template: str) -> str:
    for part in [p for p in template.split("/") if p.startswith("{")]:
        template = template.replace(part, _VALUES.get(part[1:-1], "00000000-0000-4000-8000-000000000001"))
    return template


def test_a_method_the_path_does_not_answer_is_a_405_whatever_the_body(running, token_issuer):
    """Every path of the document, every method it does not document, with a JSON body and with a body of a type
    no route reads: a 405 problem whose `Allow` lists what the document lists, as without a body. Failed before
    (the check reverted in `RequestGuard`): 400 `no_body` on GET and DELETE, 415 on POST, PUT and PATCH with
    text/plain."""
    name, service = running
    wrong = []
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        paths = client.get("/openapi.json").json()["paths"]
        for template, item in paths.items():
            documented = {m.upper() for m in item}
            allow = [m for m in _METHODS if m in documented]
            allow = allow[:1] + ["HEAD"] + allow[1:] if "GET" in allow else allow
            for method in (m for m in _METHODS if m not in documented):
                for body, media in ((b'{"revision": 1}', "application/json"), (b"x", "text/plain")):
                    response = client.request(method, _concrete(template), content=body,
                                              headers={"Content-Type": media})
                    got = (response.status_code, response.headers.get("allow"),
                           response.headers.get("content-type", "").split(";")[0])
                    if got != (405, ", ".join(allow), "application/problem+json"):
                        wrong.append(f"{method} {template} ({media}): {got} {response.text[:200]}")
    assert not wrong, f"{name}:\n" + "\n".join(wrong)


def test_a_body_on_a_get_the_path_answers_is_still_refused(running, token_issuer):
    """What the guard judged stays judged where the path answers the method: a body on a GET is a 400 naming
    `body` and `no_body`, a POST's body in text/plain a 415."""
    name, service = running
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        response = client.request("GET", "/healthz", content=b"{}", headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("body", "no_body")]
        paths = client.get("/openapi.json").json()["paths"]
        template = next(t for t, item in paths.items() if "post" in item)
        response = client.post(_concrete(template), content=b"x", headers={"Content-Type": "text/plain"})
        assert response.status_code == 415, (name, template, response.text)


def test_every_document_says_the_text_and_list_rules_its_422s_name(running, token_issuer):
    """Each rule a schema-valid request was refused by in the campaign is named in the document's description.
    Failed before: none of them was (the description said the integer and parameter rules only)."""
    name, service = running
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        description = client.get("/openapi.json").json()["info"]["description"]
    assert TEXT_RULES in description
    for rule in ("no_control_characters", "no_noncharacters", "no_personal_identity_number", "ascii_only",
                 "no_invisible_characters", "not_blank", "unknown_subject_code", "unknown_catalogue_version",
                 "date_range", "encoded_separator"):
        assert f"`{rule}`" in description, (name, rule)


def test_lika_start_term_is_documented_by_its_pattern(running, token_issuer):
    """The document's pattern for `start_term` admits what the service takes and refuses what it refuses by
    `term_format`. Failed before: no pattern (a generated `"0"` was schema-valid and a 422)."""
    name, service = running
    if name != "lika":
        pytest.skip("LIKA's door")
    import re

    from styrkedja_lika.self_assessments.service import _START_TERM

    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        document = client.get("/openapi.json").json()
    schema = document["components"]["schemas"]["FinaliseIn"]["properties"]["start_term"]
    pattern = schema.get("pattern") or next((o.get("pattern") for o in schema.get("anyOf", []) if "pattern" in o),
                                            None)
    assert pattern is not None, schema
    for text, taken in (("HT 2026/27", True), ("VT 1900/01", True), ("0", False), ("HT2026/27", False),
                        ("ht 2026/27", False), ("HT 2026/27 ", False), ("HT  2026/27", False)):
        assert bool(re.search(pattern, text)) is taken, (pattern, text)
        assert bool(_START_TERM.fullmatch(text)) is taken, text  # the service's own rule, the same


def test_a_calendar_refused_names_the_field_and_its_document_says_the_rule(running, token_issuer):
    """Failed before: `body`/`value_error` for both, and the document's `forecast_windows` took two HT windows."""
    name, service = running
    if name != "forecast":
        pytest.skip("the forecast service's door")
    import jsonschema

    windows = [{"term": "HT", "iso_week": 43}, {"term": "HT", "iso_week": 44}]
    rounds = [{"round": 1, "term": "HT", "iso_week": 40}, {"round": 1, "term": "VT", "iso_week": 10}]
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        for body, field, rule in (({"forecast_windows": windows}, "forecast_windows", "one_window_per_term"),
                                  ({"round_deadlines": rounds}, "round_deadlines", "one_deadline_per_round"),
                                  ({"timezone": "0" * 63}, "timezone", "unknown_time_zone")):
            response = client.put("/v1/calendars/2999", json=body)
            assert response.status_code == 422, response.text
            assert (field, rule) in [(e["field"], e["rule"]) for e in response.json()["errors"]], response.text
        document = client.get("/openapi.json").json()
    schema = document["components"]["schemas"]["CalendarIn"]["properties"]["forecast_windows"]
    schema = {k: v for k, v in schema.items() if k != "items"}  # the items' own schema is not what is judged here
    jsonschema.validate([{"term": "VT", "iso_week": 13}, {"term": "HT", "iso_week": 43}], schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(windows, schema)
    properties = document["components"]["schemas"]["CalendarIn"]["properties"]
    assert "`one_deadline_per_round`" in properties["round_deadlines"]["description"]
    assert "`unknown_time_zone`" in properties["timezone"]["description"]
    # each week in its term's weeks (`week_in_term`), by the items' own schema: judged here without the `$ref`
    in_term = properties["round_deadlines"]["items"]["allOf"][1]
    jsonschema.validate({"round": 1, "term": "HT", "iso_week": 40}, in_term)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"round": 1, "term": "HT", "iso_week": 5}, in_term)


#: (service, method, path, query, body): schema-valid requests of the campaign that a 422 refused by a rule the
#: document did not state; each rule the 422 names is now named in the document. (LIKA's `/v1/catalogue/x\u0085y`,
#: refused `no_control_characters`, is schema-invalid since the version's pattern is documented: test_openapi_round31)
STATED = [
    ("assessment", "POST", f"/v1/assessments/{UUID}/retract", None, {"reason": "   "}),
    ("forecast", "POST", "/v1/forecasts", None, {
        "organiser_id": "2999", "school_unit_code": "29990011", "group_id": "7A", "student_id": "s-1",
        "teacher_id": "t-1", "gender": "male", "year": 7, "subject_code": "000", "school_year": "2098/99",
        "term": "HT", "value": "ACCEPTABLE"}),
    ("reporting", "PUT", "/v1/alert-thresholds/2999", None, {"below_forecast_points": 6.103515625e-05}),
    ("reporting", "GET", "/v1/support/open-investigations", {"level": "group", "unit_id": "0"}, None),
    ("reporting", "GET", "/v1/support/summary", {"level": "nation", "unit_id": "x", "term": "HT"}, None),
    ("reporting", "GET", "/v1/directory/roster-sizes", {"level": "organiser", "organiser_id": "2999", "unit_id": "0",
                                                        "on": "2026-10-01"}, None),
]


@pytest.mark.parametrize("case", range(len(STATED)))
def test_a_schema_valid_request_is_refused_only_by_rules_its_document_names(running, token_issuer, case):
    """Failed before: each of these named a rule its document did not (the text rules, the subject list, the
    points' decimals, the rules across parameters, `string_pattern_mismatch` against a pattern the document took)."""
    name, service = running
    service_name, method, path, query, body = STATED[case]
    if name != service_name:
        pytest.skip(f"{service_name}'s door")
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        document = client.get("/openapi.json").text
        response = client.request(method, path, params=query, json=body)
    assert response.status_code == 422, response.text
    rules = [e["rule"] for e in response.json()["errors"]]
    assert rules and all(f"`{rule}`" in document for rule in rules), (rules, response.text)


def test_a_directory_change_is_documented_by_its_types_contract(running, token_issuer):
    """Failed before: `data` was any object; a duty's empty `data` was schema-valid and a 422."""
    name, service = running
    if name != "reporting":
        pytest.skip("reporting's door")
    import jsonschema

    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        document = client.get("/openapi.json").json()
    change = document["components"]["schemas"]["Change"]
    change = {k: v for k, v in change.items() if k not in ("properties", "additionalProperties")}  # the branches
    change["components"] = document["components"]  # where the branches' contracts are
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "se.styrkedja.organisation.duty_upserted.v1", "data": {}}, change)
    jsonschema.validate({"type": "se.styrkedja.organisation.duty_upserted.v1", "data": {
        "duty_id": "d-1", "organiser_id": "2999", "school_unit_code": "29990011", "person_id": "p-1",
        "duty_role": "Rektor", "updated_at": "2026-09-01T08:00:00+00:00"}}, change)


def test_an_action_plan_edit_documents_that_it_changes_something(running, token_issuer):
    """Failed before: `{}` and `{"revision": 2}` were schema-valid edits, and each a 422 `nothing_to_change`."""
    name, service = running
    if name != "lika":
        pytest.skip("LIKA's door")
    import jsonschema

    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        document = client.get("/openapi.json").json()
    edit = document["components"]["schemas"]["ItemEditIn"]
    edit = {k: v for k, v in edit.items() if k not in ("properties", "additionalProperties")}  # the rule alone
    for nothing in ({}, {"revision": 2}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(nothing, edit)
    for something in ({"note": None}, {"status": "done", "revision": 2}):
        jsonschema.validate(something, edit)
