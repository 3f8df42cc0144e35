"""Hostile inputs, round 22: dates and moments at the ends of the calendar in query strings.

Found and fixed (each test failed on the old code, as said at it):
- A date-time query parameter in year 9999 behind UTC (`9999-12-31T23:59:59-01:00`), or in year 1 ahead of it, passed
  every rule of the kit's strict parameters (only its RFC 3339 shape was judged) and became an OverflowError where it
  was turned into UTC: reporting's `GET /v1/audit/reads?since=…` / `until=…` and `POST
  /v1/admin/alerts/freshness-sweep?at=…` answered a plain-text 500 and dropped the connection. Now a date or a
  date-time in a query lies in the years every body and event allows (1900–2199): a 422 naming the parameter and
  `date_range` (the kit's `parameters`). The sweep's `at` (pydantic's `AwareDatetime`, not `datetime`) was judged as
  text: `at=1700000000` was read as a Unix timestamp; now `datetime_format` like every date-time parameter.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from inprocess import ORGANISER, auth
from test_hostile_http import Attack, fill, operations

#: at the ends of the calendar: each past what `datetime` can hold once it is in UTC, or outside the years bodies take
FAR_MOMENTS = ["9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59Z",
               "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "1899-12-31T23:59:59Z", "2200-01-01T00:00:00Z"]
FAR_DAYS = ["9999-12-31", "0001-01-01", "1899-12-31", "2200-01-01"]


def _temporal_parameters(operation: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, format) of each query parameter that is a date or a date-time, as the OpenAPI document says."""
    out = []
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        formats = {schema.get("format")} | {s.get("format") for s in schema.get("anyOf", [])}
        for wanted in ("date", "date-time"):
            if parameter["in"] == "query" and wanted in formats:
                out.append((parameter["name"], wanted))
    return out


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_date_or_moment_at_the_ends_of_the_calendar_is_a_422_naming_the_parameter(running, token_issuer):
    """Failed on the old code: reporting's audit trail (`since`, `until`) and freshness sweep (`at`) answered a
    plain-text 500 for the moments past `datetime.max` or before `datetime.min` in UTC, and 200 for the rest."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    try:
        for method, path, operation in operations(attack):
            # the organiser the token holds, where the operation takes one: the read then reaches the database
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            given = {"organiser_id": ORGANISER} if "organiser_id" in names else {}
            for parameter, kind in _temporal_parameters(operation):
                for value in FAR_MOMENTS if kind == "date-time" else FAR_DAYS:
                    what = f"{method} {path} {parameter}={value}"
                    try:
                        got = attack.client.request(method, fill(path), params={**given, parameter: value})
                    except httpx.HTTPError as lost:  # the old code's 500 dropped the connection
                        attack.wrong.append(f"{what}: {lost!r}")
                        continue
                    attack.judge(what, got)
                    errors = got.json().get("errors", []) if got.status_code == 422 else []
                    if (parameter, "date_range") not in [(e["field"], e["rule"]) for e in errors]:
                        attack.wrong.append(f"{what}: {got.status_code} {got.text[:160]!r}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
        if name == "reporting":  # the audit trail, the sweep, the freshness and roster dates: all swept
            assert attack.sent >= 30
    finally:
        attack.client.close()
