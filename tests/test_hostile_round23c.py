"""Hostile inputs, round 23 (c): the HTTP routes of the assessment, forecast and LIKA services — filters given
empty, bodies whose numbers or links escaped the value rules, a record of another organiser named as a basis, a
calendar or a draft sent again, and what a problem repeats of the request.

Found and fixed (each test failed on the old code, as said at it):
- LIKA's action plan (`GET .../action-plan`, its to-do export) took `?owner=` (and `?owner`, `?owner=+`, `?tag=`)
  as a filter by "": no item matched and the answer echoed `"owner": ""` as the filter applied, where an empty
  status or priority is a 422. Now a text query parameter given empty or blank is a 422 naming it (`not_blank`) on
  every operation of the four services (the kit's strict parameters; the dashboard, whose forms send empty fields,
  keeps reading them as left out). LIKA's `owner` and `tag` filters are names (the contracts' `Name`), as the owners
  and tags they are compared with: the filter echoed is the formed name, a tab in one `no_control_characters`
  (services/lika/tests/integration/test_plan_filters.py; packages/kit/tests/test_parameters.py).
- The forecast service's calendar door (`PUT /v1/calendars/{organiser_id}`, whose body is the contracts'
  `ReportingCalendar`, not the kit's `InputModel`) took `"grace_days": "3"`, `true` (stored as 1), `3.0`, `1e0`, and
  weeks and weekdays as text, each a new revision and event. The events themselves took them too: every plain `int`
  or `bool` field of a contract without `Strict` (the calendar's, the action plan's `position` and `priority`, the
  alerts' counts, revisions, `roster_size`). Now the contracts' `ContractModel` makes them strict as the kit's
  `InputModel` did since round 22 (`add_strict_numbers`, moved to the contracts; packages/contracts/tests/
  test_envelope.py, services/forecast/tests/integration/test_calendar_api.py). A rebuild refuses such an event a
  live consumer applied before this round.
- The same calendar sent again with its windows (or round deadlines) in another order was a new revision and a
  second `calendar.changed.v1`; now one order is kept (HT then VT, deadlines by round).
- A support intervention naming another organiser's record as its `investigation_id` learnt that the record exists,
  its kind, whether it was decided, or that it was "of another student": now answered as an id never stored
  (`investigation_must_exist`; services/assessment/tests/unit/test_support_rules.py).
- A plan's `link` (a URL, no string) passed the value rules unread: a personal identity number in its path or query
  (percent-encoded too), `user:password@`, a right-to-left override or NUL (percent-encoded by the URL parser) and a
  link of 70,000 characters were stored. Now the contracts' value rules read every URL as written and percent-decoded
  and refuse a user name or password (`no_credentials`); a plan's link has at most 2,048 characters
  (`url_too_long`; services/assessment/tests/integration/test_support_and_plans_api.py,
  packages/contracts/tests/test_input_safety.py).
- A value a route repeats in its problem (LIKA's unknown `indicator_id`) came back as sent: a right-to-left override
  reordering the message in the client's log, an escape sequence, CR LF. Now every control, format (bidi,
  zero-width, tag) and noncharacter in any text of any problem is written as its escape (the kit's problems;
  packages/kit/tests/test_input_safety.py).
- A LIKA draft sent again under its id naming another `assessed_on` was answered 200 "the same draft again", the
  day the client sent dropped; now 409 `id_taken` (services/lika/tests/integration/test_draft_sent_again.py).

Tried and held: LIKA's comments and notes with controls, noncharacters, bidi overrides and personnummer in every
spelling (named, never echoed); indicator ids decomposed or lower-cased (unknown, 422); a rating given twice in one
save or one import; `..` and an encoded `/` in `activity_id` and `indicator_id` (400 naming the path); another
organiser's or unit's draft, import or list (403); a partial import (taken: documented); the calendar's time zone as
`" Europe/Stockholm"`, a personnummer or a NUL; a key twice, a BOM, a lone surrogate in the calendar's body.
Left: a plan's `criteria_codes` and an assessment's `unmet_criteria` take a code twice (no reader counts them yet).
"""

from __future__ import annotations

from typing import Any

import pytest
from inprocess import ORGANISER, auth
from test_hostile_http import Attack, fill, operations


def _text_query_parameters(operation: dict[str, Any]) -> list[str]:
    """The query parameters that take free text: a string with no format, enumeration or pattern of its own."""
    out = []
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "query":
            continue
        schema = parameter.get("schema", {})
        kinds = [schema, *schema.get("anyOf", [])]
        text = [k for k in kinds if k.get("type") == "string"]
        if text and not any("format" in k or "enum" in k or "pattern" in k for k in text) and "$ref" not in str(kinds):
            out.append(parameter["name"])
    return out


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_text_query_parameter_given_empty_is_a_422_naming_it(running, token_issuer):
    """Failed on the old code: LIKA's `GET .../action-plan?owner=` (and `tag=`, and the to-do export's) went on to
    the route as a filter by "" (a 404 here: no such self-assessment; a 200 echoing `"owner": ""` for one that
    is)."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    swept = 0
    try:
        for method, path, operation in operations(attack):
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            given = {"organiser_id": ORGANISER} if "organiser_id" in names else {}
            for parameter in _text_query_parameters(operation):
                for value in ("", " ", "+"):
                    what = f"{method} {path} {parameter}={value!r}"
                    query = "&".join([*(f"{k}={v}" for k, v in given.items()), f"{parameter}={value}"])
                    got = attack.client.request(method, f"{fill(path)}?{query}")
                    attack.judge(what, got)
                    fields = [(e["field"], e["rule"]) for e in got.json().get("errors", [])] \
                        if got.status_code == 422 else []
                    if (parameter, "not_blank") not in fields:
                        attack.wrong.append(f"{what}: {got.status_code} {got.text[:160]!r}")
                    swept += 1
        assert not attack.wrong, "\n".join(attack.wrong[:20])
        if name == "lika":  # the plan's and the export's owner and tag
            assert swept >= 12
    finally:
        attack.client.close()
