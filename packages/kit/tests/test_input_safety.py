"""Kit parts of input safety that need no services: rule collections, log redaction, dead-letter
redaction, hidden statement parameters."""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import Field, ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from styrkedja_kit.consumer import redact_record_bytes
from styrkedja_kit.db import Database
from styrkedja_kit.inputs import DateParam, InputModel
from styrkedja_kit.logging import RedactingFilter
from styrkedja_kit.rules import RuleViolation, RuleViolations


def test_several_violations_answer_with_one_status() -> None:
    conflict = RuleViolation("items.1.revision", "revision_must_increase", "stale", status=409)
    wrong = RuleViolation("items.2.value", "value_on_scale", "not on the scale")
    assert RuleViolations([conflict]).status == 409
    assert RuleViolations([conflict, wrong]).status == 422  # fix the request first
    assert "items.1.revision" in str(RuleViolations([conflict, wrong]))
    with pytest.raises(ValueError):
        RuleViolations([])


def _log_line(message: str, *args: object, **extra: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(where)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(f"test-redaction-{uuid.uuid4().hex}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning(message, *args, extra={"where": "-", **extra})
    return stream.getvalue()


def _log_line_with_exception(error: BaseException) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(f"test-redaction-{uuid.uuid4().hex}")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        raise error
    except BaseException:
        logger.exception("batch failed")
    return stream.getvalue()


def test_exception_messages_in_logs_are_redacted() -> None:
    line = _log_line_with_exception(ValueError("student 19121212\u20131212 not found"))
    assert "batch failed" in line and "ValueError" in line and "[REDACTED]" in line
    assert "19121212" not in line


def test_log_records_are_redacted() -> None:
    line = _log_line('GET /v1/units?student=%s HTTP/1.1', "19121212\u20131212", where="stu-121212-1212")
    assert "1212" not in line.replace("[REDACTED]", "") or "[REDACTED]" in line
    assert line.count("[REDACTED]") == 2
    assert _log_line("event %s applied", "29990011").startswith("event 29990011 applied")


def test_dead_letter_bytes_are_redacted_even_behind_json_escapes() -> None:
    escaped = json.dumps({"data": {"student_id": "stu-19121212\u20131212"}}).encode()  # "\\u2013"
    assert b"\\u2013" in escaped
    redacted, count = redact_record_bytes(escaped)
    assert count == 1 and redacted is not None and b"[REDACTED]" in redacted
    assert redact_record_bytes(b'{"ok": "29990011"}') == (b'{"ok": "29990011"}', 0)
    assert redact_record_bytes(b"\xff\xfe 19121212-1212")[1] == 1  # not even UTF-8
    assert redact_record_bytes(None) == (None, 0)


def test_dead_letter_bytes_are_redacted_behind_percent_encoding() -> None:
    """Round 36: the contracts refuse a personal identity number percent-encoded in an envelope's `source` (and a
    link): its dead letter kept the record as it came, the number in it."""
    encoded = b'{"source": "/elev/%31%39%31%32%31%32%31%32%2D%31%32%31%32", "x": "a%20b"}'
    redacted, count = redact_record_bytes(encoded)
    assert count == 1 and redacted is not None and b"[REDACTED]" in redacted and b"%31%39" not in redacted
    assert redact_record_bytes(b'{"source": "/a%20b/29990011"}') == (b'{"source": "/a%20b/29990011"}', 0)


SECRET = "stu-" + "secret-value"  # not one literal: a traceback quotes the test's source line


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_failed_statements_never_carry_their_parameters(infrastructure) -> None:
    db = Database(infrastructure.create_database(f"t_hide_{uuid.uuid4().hex[:8]}"), pool_size=1)
    try:
        with pytest.raises(DBAPIError) as caught:
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT CAST(:secret AS integer)"), {"secret": SECRET})
        assert "hide_parameters" in str(caught.value)  # SQLAlchemy does not repeat the parameters…
        # …but the driver's own message may quote one: it never reaches a log
        line = _log_line_with_exception(caught.value)
        assert SECRET not in line
        assert "DBAPIError" in line and "message withheld" in line
    finally:
        await db.dispose()


@pytest.mark.parametrize(("value", "rule"), [
    ("1212121212", "iso_8601"), (191212121212, "iso_8601"), ("8112189876", "iso_8601"), (1.5, "iso_8601"),
    ("0001-01-01", "date_range"), ("2200-01-01", "date_range"),
])
def test_a_date_in_a_request_body_is_iso_text_in_plausible_years(value: object, rule: str) -> None:
    """Request bodies follow the events' date rules (contracts `add_temporal_rules`): pydantic alone
    would keep ten or twelve digits as a Unix timestamp, and year 1 or 9999 as a date."""
    class Body(InputModel):
        on: date
        at: datetime | None = None

    assert Body.model_validate_json('{"on": "2026-12-01", "at": null}').on == date(2026, 12, 1)
    for field in ("on", "at"):
        # a date-time field takes a date-time (a date alone is `datetime_format` since round 28t)
        sent = f"{value}T00:00:00Z" if field == "at" and rule == "date_range" else value
        payload = {"on": "2026-12-01", field: sent}
        with pytest.raises(ValidationError) as caught:
            Body.model_validate_json(json.dumps(payload))
        assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((field,), rule)]


@pytest.mark.parametrize(("field", "value", "rule"), [
    ("on", "2026-12-01T00:00:00+14:00", "date_format"), ("on", "2026-12-01T00:00:00Z", "date_format"),
    ("on", "2026-12-01 ", "date_format"), ("on", "2026-W49-2", "date_format"), ("on", "2027-02-29", "date_from_datetime_parsing"),
    ("at", "2026-12-01", "datetime_format"), ("at", "2026-12-01T10:00:00", "datetime_format"),
    ("at", "2026-12-01 10:00:00Z", "datetime_format"), ("at", "2026-12-01T10:00:00+0100", "datetime_format"),
    ("at", "2026-12-01T10:00Z", "datetime_format"), ("at", "2026-12-01T10:00:00,5Z", "datetime_format"),
    ("at", "2026-12-01T23:59:60Z", "datetime_from_date_parsing"), ("at", "2026-12-01T10:00:00+24:00", "datetime_from_date_parsing"),
])
def test_a_date_or_time_in_a_request_body_is_written_as_rfc_3339_writes_it(field: str, value: str, rule: str) -> None:
    """Round 28t: a body's date is `YYYY-MM-DD` and its date-time RFC 3339's, as every query parameter's and event's are
    (the contracts' `date_as_text`, `datetime_as_text`). Failed on the old code for each `*_format`: pydantic alone
    read a date-time at midnight as its date (`+14:00`: another day in Sweden), a naive time on a `datetime` field as
    a local time of no zone, a date as midnight, and ISO 8601's other forms of a time (a week date or a trailing
    blank it refused, under its own rule's name)."""
    class Body(InputModel):
        on: date
        at: datetime | None = None

    with pytest.raises(ValidationError) as caught:
        Body.model_validate_json(json.dumps({"on": "2026-12-01", field: value}))
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((field,), rule)]


@pytest.mark.parametrize(("value", "instant"), [
    ("2026-12-01T10:00:00z", datetime(2026, 12, 1, 10, tzinfo=UTC)),
    ("2026-12-01t11:00:00+01:00", datetime(2026, 12, 1, 10, tzinfo=UTC)),
    ("2026-12-01T10:00:00-00:00", datetime(2026, 12, 1, 10, tzinfo=UTC)),
    ("2026-12-02T00:00:00+14:00", datetime(2026, 12, 1, 10, tzinfo=UTC)),
    ("2026-11-30T22:00:00-12:00", datetime(2026, 12, 1, 10, tzinfo=UTC)),
    ("2026-12-01T15:45:00+05:45", datetime(2026, 12, 1, 10, tzinfo=UTC)),
    ("2026-12-01T10:00:00.1234567Z", datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)),  # .NET's seven digits
])
def test_a_time_in_a_request_body_is_its_instant_in_any_offset(value: str, instant: datetime) -> None:
    """The same instant written in any offset RFC 3339 allows is one instant (a fraction past microseconds cut off)."""
    class Body(InputModel):
        at: datetime

    assert Body.model_validate_json(json.dumps({"at": value})).at == instant


@pytest.mark.parametrize("text", ["5_0", "\u0661\u0660", "\uff15", "  5 ", "5\n", "+5", ".5", "5.", "1E+1", "1e2",
                                  "0E-1000000", "NaN", "-Infinity", "0x10", ""])
def test_a_decimal_given_as_text_is_in_plain_notation(text: str) -> None:
    """Failed on the old code: `"5_0"` was 50, Arabic-Indic and full-width digits, blanks, `+5`, `.5`, `5.` numbers,
    `"1E+1"` kept so, and `"0E-1000000"` passed the rule of decimal places to fail in PostgreSQL (reporting's alert
    thresholds: a 500); NaN, -Infinity, 0x10 and "" were refused by pydantic's rules, each its own."""
    class Body(InputModel):
        points: Decimal = Field(Decimal(10), ge=0, le=100, decimal_places=4)
        maybe: Decimal | None = None

    for field in ("points", "maybe"):
        with pytest.raises(ValidationError) as caught:
            Body.model_validate_json(json.dumps({field: text}))
        assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((field,), "decimal_format")]


def test_a_decimal_zero_is_one_zero_and_plain_decimals_pass() -> None:
    """Failed on the old code: `-0.0` (a JSON number too) was kept and answered as `-0`."""
    class Body(InputModel):
        points: Decimal = Field(Decimal(10), ge=0, le=100, decimal_places=4)

    for given in ('"-0"', '"-0.0"', "-0.0", '"0.0000"', "0"):
        kept = Body.model_validate_json(f'{{"points": {given}}}').points
        assert str(kept) == "0", given
    assert [str(Body.model_validate_json(f'{{"points": {v}}}').points) for v in ('"12.5"', "12.5", '"100"', "7")] == [
        "12.5", "12.5", "100", "7"]


@pytest.mark.parametrize("given", ['"2"', "2.0", "1e0", "true", '" 2"'])
def test_a_plain_int_or_bool_field_of_a_body_is_strict(given: str) -> None:
    """Failed on the old code: a field typed plain `int` (LIKA's action-plan `priority`, reporting's `min_students`)
    took text, a float with no fraction and `true` (as 1), as pydantic's lax mode reads them; a plain `bool` took
    `"true"`, 1 and `"yes"`."""
    class Body(InputModel):
        count: int = Field(1, ge=0, le=3)
        maybe: int | None = None
        flag: bool = False

    for field in ("count", "maybe"):
        with pytest.raises(ValidationError) as caught:
            Body.model_validate_json(f'{{"{field}": {given}}}')
        assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((field,), "int_type")]
    for flag in ('"true"', "1", '"yes"'):
        with pytest.raises(ValidationError) as caught:
            Body.model_validate_json(f'{{"flag": {flag}}}')
        assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("flag",), "bool_type")]
    kept = Body.model_validate_json('{"count": 2, "maybe": null, "flag": true}')
    assert (kept.count, kept.maybe, kept.flag) == (2, None, True)


@pytest.mark.parametrize("text", ["urn:uuid:12345678-1234-5678-1234-567812345678",
                                  "{12345678-1234-5678-1234-567812345678}", "12345678123456781234567812345678"])
def test_a_uuid_in_a_body_is_its_36_character_form(text: str) -> None:
    """Failed on the old code: each was read as the id `12345678-1234-5678-1234-567812345678` (a gateway or an audit
    comparing the body's text saw another id than the one stored)."""
    class Body(InputModel):
        record_id: UUID | None = None
        other_id: UUID = UUID(int=1)

    for field in ("record_id", "other_id"):
        with pytest.raises(ValidationError) as caught:
            Body.model_validate_json(json.dumps({field: text}))
        assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((field,), "uuid_format")]
    assert Body.model_validate_json('{"record_id": "12345678-1234-5678-1234-56781234567A"}').record_id == UUID(
        "12345678-1234-5678-1234-56781234567a")
    with pytest.raises(ValidationError) as caught:  # no UUID at all: pydantic's own rule, as before
        Body.model_validate_json('{"record_id": "not-a-uuid"}')
    assert [e["type"] for e in caught.value.errors()] == ["uuid_parsing"]


def test_a_date_in_a_query_is_iso_text_in_plausible_years() -> None:
    app = FastAPI()

    @app.get("/on")
    def on(day: DateParam | None = None) -> dict:
        return {"day": str(day)}

    client = TestClient(app)
    assert client.get("/on", params={"day": "2026-12-01"}).json() == {"day": str(date(2026, 12, 1))}
    assert client.get("/on").json() == {"day": "None"}
    for value, rule in (("1212121212", "iso_8601"), ("0001-01-01", "date_range"), ("2200-01-01", "date_range")):
        answer = client.get("/on", params={"day": value})
        assert answer.status_code == 422
        assert [(e["loc"], e["type"]) for e in answer.json()["detail"]] == [(["query", "day"], rule)]


def test_a_problem_repeats_a_value_of_the_request_bounded_and_never_a_cut_personnummer() -> None:
    """Round 17: a route repeating a value (LIKA's unknown catalogue `version`, reporting's unknown `format`) repeated
    it whole in `detail` and `message`; an unknown parameter's name of 3,000 characters became the `field`."""
    from styrkedja_kit.problems import ECHO_LIMIT, TEXT_LIMITS, problem_response

    long = "Q" * 5000
    body = json.loads(problem_response(
        404, "Not found", f"no catalogue version {long!r}; known: 2026.1",
        [{"field": long, "rule": "x", "message": f"no catalogue version {long!r}; known: 2026.1"}],
        instance="/v1/catalogue/" + long[:3000] + "/x").body)
    assert body["detail"] == "no catalogue version '" + "Q" * (ECHO_LIMIT - 2) + "\u2026 known: 2026.1"
    assert body["errors"][0]["message"] == body["detail"]
    assert body["errors"][0]["field"] == "Q" * (ECHO_LIMIT - 1) + "\u2026"
    assert body["instance"] == "/v1/catalogue/" + "Q" * (ECHO_LIMIT - 1) + "\u2026/x"
    spaced = json.loads(problem_response(422, "Rule broken", "Q " * 5000).body)["detail"]
    assert len(spaced) == TEXT_LIMITS["detail"] and spaced.endswith("\u2026")
    # a run cut where a personnummer then ends is redacted (cut after its twelfth digit), a number cut in two is
    # redacted before it is cut (ten of its twelve digits would be left)
    cut_here = "x" * (ECHO_LIMIT - 13) + "1912121212123" + "9" * 50
    assert "191212121212" not in json.loads(problem_response(422, "Rule broken", cut_here).body)["detail"]
    across = "x" * (ECHO_LIMIT - 5) + "19121212-1212" + "x" * 50
    assert "1912" not in json.loads(problem_response(422, "Rule broken", across).body)["detail"]
    # the rules' own words are as they were
    said = "unit_id: String should match pattern '^[A-Za-z0-9._:/-]{1,80}$'"
    assert json.loads(problem_response(422, "Invalid request", said).body)["detail"] == said


@pytest.mark.parametrize(("sent", "shown"), [
    ("x\u202ey", "x\\u202ey"), ("a\x1b[2Jb", "a\\x1b[2Jb"), ("zero\u200bwidth", "zero\\u200bwidth"),
    ("line\r\nX-Injected: 1", "line\\x0d\\x0aX-Injected: 1"), ("nc\ufffe", "nc\\ufffe"),
    ("tag\U000e0041", "tag\\U000e0041"), ("\u2067isolate", "\\u2067isolate"),
])
def test_a_problem_repeats_no_control_or_invisible_character_of_the_request(sent: str, shown: str) -> None:
    """Round 23c, failed on the old code: a value a route repeats in its problem (LIKA's unknown `indicator_id`) came
    back as sent, a right-to-left override reordering the message in the client's log, an escape sequence clearing
    its terminal, a line break starting a line of its own. Now each such character is its escape, in every text of
    every problem."""
    from styrkedja_kit.problems import problem_response

    message = f"catalogue 2026.1 has no indicator {sent} for grundskola"
    body = json.loads(problem_response(422, "Rule broken", message,
                                       [{"field": "ratings.0.indicator_id", "rule": "unknown_indicator",
                                         "message": message}], instance=f"/v1/x/{sent}").body)
    expected = f"catalogue 2026.1 has no indicator {shown} for grundskola"
    assert body["detail"] == expected and body["errors"][0]["message"] == expected
    assert body["instance"] == f"/v1/x/{shown}"
    plain = "Åsa's 😀 kommentar: 'GR-LED-01' är okänd"  # letters, emoji and punctuation are as they were
    assert json.loads(problem_response(422, "Rule broken", plain).body)["detail"] == plain


def test_a_problem_lists_at_most_max_errors_and_says_how_many_more() -> None:
    """Round 17: a batch of 1,000 empty items (3 KB) was answered with 15,000 errors (1.1 MB), one item of 300,000
    unknown keys (3.5 MB) with 300,015 (29 MB)."""
    from styrkedja_kit.problems import MAX_ERRORS, install_problem_handlers

    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/items")
    def take(batch: _Batch) -> int:
        return len(batch.items)

    answer = TestClient(app).post("/items", json={"items": [{}] * 600 + [{"a": 1, "b": 2, "c": 3}]})
    errors = answer.json()["errors"]
    assert answer.status_code == 422 and len(errors) == MAX_ERRORS + 1
    assert errors[0] == {"field": "items.0.a", "rule": "missing", "message": "Field required"}
    assert errors[-1]["field"] == "request" and errors[-1]["rule"] == "more_errors"
    assert errors[-1]["message"].startswith(f"{1201 - MAX_ERRORS} more errors are not listed")
    assert len(TestClient(app).post("/items", json={"items": [{}] * 10}).json()["errors"]) == 20  # all, below it


class _Item(InputModel):
    a: int
    b: int


class _Batch(InputModel):
    items: list[_Item]
