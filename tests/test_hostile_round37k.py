"""Hostile round 37 (knobs37): two leftovers of round 36 (tests/test_hostile_round36.py).

- A `source` holding white space — a no-break space (U+00A0), an ideographic or an em space, an ASCII space — was
  refused by the envelope's published schema pattern (`^\\S+$`) first, so its refusal named pydantic's
  `string_pattern_mismatch` ("String should match pattern '^\\S+$'") where round 36's docs name `uri_reference` for
  any character a URI-reference does not allow: a door that made such an event answered 422 with the other rule, a
  dead letter said the other reason's words. Now the published pattern is the schema's only (a URI-reference holds no
  white space: `check_source` refuses every value it refused) and each names `uri_reference`; what is accepted is
  unchanged.
- The SS 12000 import's bound on reporting's whole answer (`REPORTING_ANSWER_SECONDS`, 600 s) had no flag where the
  import's other waits have theirs (`--page-seconds`, `--timeout`). Now `--reporting-answer-seconds` (1–86400; a bad
  value a usage error naming the flag, exit 2), named in the line that stops the import.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from test_hostile_round36 import decode_refusals
from typer.testing import CliRunner

from styrkedja_contracts import ContractError, decode_event, example_bytes
from styrkedja_contracts.envelope import decode_plain

PUBLISHED = "se.styrkedja.assessment.published.v1"
TOPIC = "styrkedja.assessments"
RECORD_TIME = 1_796_083_200_000  # 2026-12-01T00:00:00Z: after the example's time

#: white space in `source`: each refused before by the schema's pattern, under its rule
SPACES = [("no-break space", "/assess\u00a0ment"), ("ASCII space", "/a b"), ("leading space", " /assessment"),
          ("ideographic space", "/a\u3000b"), ("em space", "/a\u2003b"), ("narrow no-break space", "/a\u202fb"),
          ("ogham space mark", "/a\u1680b"), ("trailing no-break space", "/assessment\u00a0")]


def _document(source: str) -> dict[str, Any]:
    document = json.loads(example_bytes(PUBLISHED))
    document["id"] = str(uuid.uuid4())
    document["source"] = source
    return document


def _record(document: dict[str, Any], offset: int) -> ConsumerRecord:
    value = json.dumps(document, ensure_ascii=False).encode()
    key = document["data"]["organiser_id"].encode()
    return ConsumerRecord(TOPIC, 0, offset, RECORD_TIME, 0, key, value, None, len(key), len(value), ())


@pytest.mark.parametrize(("what", "source"), SPACES, ids=[s[0] for s in SPACES])
def test_white_space_in_source_is_refused_naming_uri_reference(what: str, source: str) -> None:
    document = _document(source)
    for raw in (json.dumps(document).encode(), json.dumps(document, ensure_ascii=False).encode()):
        with pytest.raises(ContractError) as refused:
            decode_event(raw)
        error = refused.value
        assert error.reason == "invalid_envelope" and error.fields == ("source",), error
        assert "(uri_reference)" in error.message and "pattern" not in error.message, error.message
        assert source not in error.message
        assert decode_plain(raw) is None


def test_every_unicode_white_space_in_source_names_a_rule_of_the_envelope_not_the_schema_pattern() -> None:
    """Every character `\\s` matches (the published pattern's refusals): `uri_reference`, or the text rule for the
    controls (a tab, a line feed: `check_line`, as in any attribute)."""
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if re.fullmatch(r"\s", chr(c))]
    assert "\u00a0" in spaces and len(spaces) > 20
    for space in spaces:
        with pytest.raises(ContractError) as refused:
            decode_event(json.dumps(_document(f"/a{space}b")).encode())
        message = refused.value.message
        assert "(uri_reference)" in message or "control" in message, (hex(ord(space)), message)
        assert "pattern" not in message, (hex(ord(space)), message)


def test_what_the_envelope_takes_and_publishes_is_unchanged() -> None:
    from styrkedja_contracts.envelope import _EnvelopeAttributes

    schema = _EnvelopeAttributes.model_json_schema()["properties"]["source"]
    assert schema["pattern"] == r"^\S+$" and schema["minLength"] == 1 and schema["maxLength"] == 512
    for source in ("/assessment", "/b%C3%A9d%C3%B6mning", "urn:vklass:export:7", "https://v.example/x?y=1"):
        assert decode_event(json.dumps(_document(source), ensure_ascii=False)).source == source
    for source, said in (("", "at least 1 character"), ("/" + "a" * 512, "at most 512 characters")):
        with pytest.raises(ContractError, match=said):
            decode_event(json.dumps(_document(source)))


def test_the_rebuild_dead_letters_them_with_the_same_reason_and_words() -> None:
    from styrkedja_reporting.rebuild.bulk import decoded_and_staged, raw_records

    records = [_record(_document("/assessment"), 0), *(_record(_document(s), n + 1) for n, (_, s) in enumerate(SPACES))]
    expected = decode_refusals(records)
    assert [n for n, *_ in expected] == list(range(1, len(SPACES) + 1))
    assert all("(uri_reference)" in said for *_, said in expected)
    for as_text in (False, True):
        staged = decoded_and_staged(raw_records(records), 0, 256_000, as_text)
        assert sorted(staged.dead) == expected, as_text


def test_a_door_making_such_an_event_answers_422_naming_uri_reference() -> None:
    from styrkedja_contracts import AssessmentPublishedV1
    from styrkedja_kit.rules import RuleViolation, publishable_event

    data = decode_event(example_bytes(PUBLISHED)).data
    assert isinstance(data, AssessmentPublishedV1)
    for source in ("/assess\u00a0ment", "/a b"):
        with pytest.raises(RuleViolation) as refused:
            publishable_event(lambda: data, source=source, subject="7A", field="body")
        assert (refused.value.field, refused.value.rule, refused.value.status) == ("body", "uri_reference", 422)


# -- the SS 12000 import's bound on reporting's answers --------------------------------------------------------------

def test_reporting_answer_seconds_is_a_flag_with_bounds() -> None:
    from styrkedja_cli.main import app

    runner = CliRunner()
    usage = runner.invoke(app, ["import", "ss12000", "--help"], env={"COLUMNS": "200"}).output  # (80: names cut)
    assert "--reporting-answer-seconds" in " ".join(usage.split())
    for value in ("0", "-1", "nan", "inf", "86401", "1e308", "x", ""):
        refused = runner.invoke(app, ["import", "ss12000", "--url", "http://127.0.0.1:9",
                                      "--reporting-answer-seconds", value])
        assert refused.exit_code == 2, (value, refused.output)
        assert "--reporting-answer-seconds" in " ".join(refused.output.split()), (value, refused.output)


def test_the_flag_reaches_reporting_s_client_and_bounds_its_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from styrkedja_cli.main import app
    from styrkedja_cli.ss12000 import command
    from styrkedja_cli.ss12000.deadline import deadline_of

    made: list[float | None] = []
    real = command.reporting_client

    def client(url: str, headers: dict[str, str], answer_seconds: float | None = None) -> Any:
        made.append(answer_seconds)
        raise command.SourceError("stop here")

    async def reached(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(command, "reach_http", reached)
    monkeypatch.setattr(command, "reporting_client", client)

    class Source:
        def __init__(self, url: str, token: Any, **kwargs: Any) -> None:
            pass

    monkeypatch.setattr(command, "HttpSource", Source)
    runner = CliRunner()
    for argv, seconds in (([], command.REPORTING_ANSWER_SECONDS), (["--reporting-answer-seconds", "42.5"], 42.5)):
        ran = runner.invoke(app, ["import", "ss12000", "--url", "http://x", *argv])
        assert ran.exit_code == 1 and "stop here" in ran.output, ran.output
        assert made.pop() == seconds
    with real("http://127.0.0.1:9", {}, 42.5) as bounded:
        deadline = deadline_of(bounded)
        assert deadline is not None and deadline.whole == 42.5
