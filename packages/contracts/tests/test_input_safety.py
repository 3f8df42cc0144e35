"""Input safety rules written once in the contracts: the personnummer detector over every
spelling, the text rules, ASCII-only codes, strict and bounded integers, the subject code list."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from styrkedja_contracts import AssessmentPublishedV1, ForecastSubmittedV1, forecast_id_for
from styrkedja_contracts.events.base import MAX_INT4
from styrkedja_contracts.identifiers import (
    OrganiserId,
    SafeText,
    SchoolUnitCode,
    StudentId,
    contains_personal_identity_number,
    is_valid_luhn,
    luhn_check_digit,
    normalise_for_detection,
    redact_personal_identity_numbers,
)
from styrkedja_contracts.subjects import KnownSubjectCode, is_known_subject_code, subject_list

# 19121212-1212 is Skatteverket's well-known test number; 811218-9876 its sample; 701063-2391 a
# samordningsnummer (day 03 + 60); 20121212-1212 the same serial with century 20.
SPELLINGS = [
    "19121212-1212",
    "121212-1212",
    "121212+1212",
    "1212121212",
    "191212121212",
    "19121212 1212",
    "121212 1212",
    "19121212\u20131212",  # en dash
    "19121212\u20141212",  # em dash
    "19121212\u20121212",  # figure dash
    "19121212\u20111212",  # non-breaking hyphen
    "19121212\u20101212",  # hyphen
    "19121212\u22121212",  # minus sign
    "19121212\ufe631212",  # small hyphen-minus
    "19121212\u00a01212",  # no-break space
    "19121212\u202f1212",  # narrow no-break space
    "19121212\u20091212",  # thin space
    "19121212\u30001212",  # ideographic space
    "19121212\t1212",
    "121212\n1212",
    "19121212 - 1212",
    "121212 - 1212",
    "19121212 \u2013 1212",
    "19121212\u00a0-\u00a01212",
    "\uff11\uff19\uff11\uff12\uff11\uff12\uff11\uff12\uff0d\uff11\uff12\uff11\uff12",  # full-width, full-width hyphen
    "\uff11\uff19\uff11\uff12\uff11\uff12\uff11\uff12-\uff11\uff12\uff11\uff12",
    "\uff11\uff12\uff11\uff12\uff11\uff12\uff11\uff12\uff11\uff12",
    "\u0661\u0669\u0661\u0662\u0661\u0662\u0661\u0662-\u0661\u0662\u0661\u0662",  # Arabic-Indic digits
    "\u06f1\u06f9\u06f1\u06f2\u06f1\u06f2\u06f1\u06f2-\u06f1\u06f2\u06f1\u06f2",  # Extended Arabic-Indic
    "\u0967\u096f\u0967\u0968\u0967\u0968\u0967\u0968-\u0967\u0968\u0967\u0968",  # Devanagari
    "\U0001d7cf\U0001d7d7\U0001d7cf\U0001d7d0\U0001d7cf\U0001d7d0\U0001d7cf\U0001d7d0-\U0001d7cf\U0001d7d0"
    "\U0001d7cf\U0001d7d0",  # mathematical bold digits
    "19121212\u00ad1212",  # soft hyphen (invisible)
    "19121212\u200b-1212",  # zero-width space
    "811218-9876",
    "19811218-9876",
    "198112189876",
    "701063-2391",  # samordningsnummer
    "19701063-2391",
    "197010632391",
    "701063\u20132391",
    "20121212-1212",
    "elev 19121212-1212 har frånvaro",
    "Eleven (121212\u20131212) behöver stöd i läsning",
    "stu-121212-1212",
    "id:1212121212.",
    "kriterium uppnås inte; pnr 19121212 \u2013 1212, se åtgärdsprogram",
]

NEAR_MISSES = [
    "29990011",  # a school unit code
    "12345678",
    "\uff12\uff19\uff19\uff19\uff10\uff10\uff11\uff11",  # full-width school unit code: 8 digits only
    "2026-11-16",
    "2026-11-16T15:42:08+01:00",
    "19121212-1213",  # wrong check digit
    "121212-1213",
    "1212121213",
    "19121212\u20131213",
    "070-123 45 67",  # phone numbers
    "08-123 456 78",
    "+46 70 123 45 67",
    "0701234565",
    "212000-1234",  # municipality organisation number (month digits 20)
    "5560001235",
    "19121312-1212",  # month 13
    "19121232-1212",  # day 32
    "19121292-1212",  # day 92
    "15121212-1212",  # century 15
    "1912121212121",  # 13-digit run
    "3b0e6f0a-9c4d-4f7e-8a21-5d6c7e8f9a01",  # a UUID
    "19811218-9876-4f7e-8a21-5d6c7e8f9a01",
    "GRGRMAT01",
    "Läsår 2026/27, vecka 13",
    "version 1.2.3-1212",
    "",
]


def test_tables_are_large_enough() -> None:
    assert len(SPELLINGS) >= 40 and len(NEAR_MISSES) >= 20


@pytest.mark.parametrize("text", SPELLINGS)
def test_every_spelling_is_found(text: str) -> None:
    assert contains_personal_identity_number(text)
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(SafeText).validate_python(text)
    assert caught.value.errors()[0]["type"] == "no_personal_identity_number"


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_pass(text: str) -> None:
    assert not contains_personal_identity_number(text)
    assert TypeAdapter(SafeText).validate_python(text) == text


@pytest.mark.parametrize("phone", ["0701234565", "5560001235", "1212121213"])
def test_phone_like_near_misses_really_fail_luhn(phone: str) -> None:
    assert not is_valid_luhn(phone)


@pytest.mark.parametrize("text", SPELLINGS)
def test_redaction_removes_every_spelling(text: str) -> None:
    redacted, count = redact_personal_identity_numbers(text)
    assert count >= 1
    assert "[REDACTED]" in redacted
    assert not contains_personal_identity_number(redacted)


def test_redaction_replaces_a_number_once() -> None:
    assert redact_personal_identity_numbers("pnr 191212121212 och 811218-9876") == (
        "pnr [REDACTED] och [REDACTED]", 2)


def test_redaction_leaves_other_text_alone() -> None:
    assert redact_personal_identity_numbers("skolenhet 29990011") == ("skolenhet 29990011", 0)
    assert redact_personal_identity_numbers('{"student_id": "stu-121212-1212"}') == (
        '{"student_id": "stu-[REDACTED]"}', 1)


def test_normalisation_keeps_ascii_text() -> None:
    text = "ascii only 123"
    assert normalise_for_detection(text) is text
    assert normalise_for_detection("\uff11\u2013\u00a0") == "1- "


@pytest.mark.parametrize("text", ["a\x00b", "\x01", "bell\x07", "esc\x1b[31m", "\x7f", "vt\x0b", "ff\x0c",
                                  "lone \ud800 surrogate",
                                  # C1 (round 17: taken until then): NEL, CSI, "Å" as UTF-8 read as Latin-1
                                  "nel\x85line", "csi\x9b31m", "\x80", "\x9f", "\u00c3\u0085sa"])
def test_control_characters_are_refused(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(SafeText).validate_python(text)
    assert caught.value.errors()[0]["type"] == "no_control_characters"


@pytest.mark.parametrize("text", ["line one\nline two", "tab\tseparated", "windows\r\nline", "åäö ÅÄÖ é ü",
                                  "no-break\u00a0space"])
def test_tab_newline_and_letters_are_fine(text: str) -> None:
    assert TypeAdapter(SafeText).validate_python(text) == text


@pytest.mark.parametrize("code", ["\uff12\uff19\uff19\uff19\uff10\uff10\uff11\uff11",
                                  "\u0662\u0669\u0669\u0669\u0660\u0660\u0661\u0661", "2999001\u0661"])
def test_school_unit_code_is_ascii_only(code: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(SchoolUnitCode).validate_python(code)


@pytest.mark.parametrize("organiser", ["\uff12\uff19\uff19\uff19", "\u0662\u0669\u0669\u0669"])
def test_organiser_id_is_ascii_only(organiser: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(OrganiserId).validate_python(organiser)


def test_pseudonymous_id_with_a_unicode_dashed_number_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(StudentId).validate_python("stu-19121212\u20131212")
    assert caught.value.errors()[0]["type"] == "no_personal_identity_number"


def test_subject_list_is_versioned_data() -> None:
    subjects = subject_list()
    assert subjects.version and "Skolverket" in subjects.source
    forms = {s.school_form for s in subjects.subjects.values()}
    assert {"grundskola", "anpassad_grundskola", "gymnasieskola"} <= forms
    for code in ("GRGRMAT01", "GRGRSVE01", "GRGRSVA01", "GRGRENG01", "GRGRBIO01", "MAT", "SVE"):
        assert is_known_subject_code(code)
    assert not is_known_subject_code("GRGRXXX01")


def test_unknown_subject_code_rule() -> None:
    assert TypeAdapter(KnownSubjectCode).validate_python("GRGRMAT01") == "GRGRMAT01"
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(KnownSubjectCode).validate_python("GRGRXXX01")
    assert caught.value.errors()[0]["type"] == "unknown_subject_code"


def _rules(error: ValidationError) -> set[tuple[str, str]]:
    return {(".".join(str(p) for p in e["loc"]), e["type"]) for e in error.errors()}


@pytest.mark.parametrize(("field", "value", "rule"), [
    ("revision", MAX_INT4 + 1, "less_than_equal"),
    ("revision", "1", "int_type"),
    ("revision", True, "int_type"),
    ("revision", 1.0, "int_type"),
    ("year", "7", "int_type"),
    ("round", False, "int_type"),
    ("unmet_criteria", ["ok", "nul\x00byte"], "no_control_characters"),
    ("unmet_criteria", ["pnr 19121212\u20131212"], "no_personal_identity_number"),
    ("school_unit_code", "\uff12\uff19\uff19\uff19\uff10\uff10\uff11\uff11", "ascii_only"),
    ("subject_code", "GRGRXXX01", "unknown_subject_code"),
    # dates and times: pydantic alone reads a number or a string of digits as a Unix timestamp
    ("assessed_on", "1212121212", "iso_8601"),
    ("assessed_on", 1212121212, "iso_8601"),
    ("published_at", "191212121212", "iso_8601"),
    ("published_at", 1.7e9, "iso_8601"),
    ("assessed_on", "0001-01-01", "date_range"),
    ("assessed_on", "9999-12-31", "date_range"),
    ("published_at", "9999-12-31T23:59:59-12:00", "date_range"),
    ("assessed_on", "yesterday", "date_format"),
    # round 28t: one spelling, RFC 3339's, as the schemas' `format` and every query parameter say. Each of these was
    # taken before: a date-time at midnight as its date (in an offset Sweden never has, another day there), ISO 8601's
    # other forms of a time
    ("assessed_on", "2026-11-25T00:00:00+14:00", "date_format"),
    ("assessed_on", "2026-11-25T00:00:00Z", "date_format"),
    ("assessed_on", "2026-11-25T00:00", "date_format"),
    ("published_at", "2026-11-25 10:00:00Z", "datetime_format"),
    ("published_at", "2026-11-25T10:00:00+0100", "datetime_format"),
    ("published_at", "2026-11-25T10:00Z", "datetime_format"),
    ("published_at", "2026-11-25T10:00:00,5Z", "datetime_format"),
    ("published_at", "2026-11-25T10:00:00", "datetime_format"),
    ("assessed_on", "2027-02-29", "date_from_datetime_parsing"),
])
def test_event_fields_are_strict_and_bounded(assessment_kwargs: dict, field: str, value: object,
                                             rule: str) -> None:
    kwargs = {**assessment_kwargs, "value": "F", "unmet_criteria": ("kriterium",), field: value}
    with pytest.raises(ValidationError) as caught:
        AssessmentPublishedV1.model_validate(kwargs)
    assert any(r == rule and loc.startswith(field) for loc, r in _rules(caught.value)), caught.value.errors()


def test_dates_at_the_ends_of_the_years_allowed_are_fine(assessment_kwargs: dict) -> None:
    # (an assessment's date lies in its school year too: the first and the last days of the years taken)
    for day, school_year in (("1900-07-01", "1900/01"), ("2199-06-30", "2198/99")):
        kwargs = {**assessment_kwargs, "assessed_on": day, "school_year": school_year}
        assert AssessmentPublishedV1.model_validate(kwargs).assessed_on == date.fromisoformat(day)


def test_event_at_the_integer_limit_is_fine(assessment_kwargs: dict) -> None:
    assert AssessmentPublishedV1.model_validate({**assessment_kwargs, "revision": MAX_INT4}).revision == MAX_INT4


def test_forecast_late_is_a_strict_boolean(assessment_kwargs: dict) -> None:
    kwargs = {k: v for k, v in assessment_kwargs.items()
              if k not in ("assessment_id", "kind", "scale", "round", "assessed_on", "published_at")}
    key = (kwargs["organiser_id"], kwargs["student_id"], kwargs["subject_code"], kwargs["school_year"], kwargs["term"])
    kwargs |= {"forecast_id": forecast_id_for(*key), "value": "ACCEPTABLE",
               "submitted_at": assessment_kwargs["published_at"], "window_deadline": "2026-10-23"}
    assert ForecastSubmittedV1.model_validate({**kwargs, "late": False}).late is False
    with pytest.raises(ValidationError):
        ForecastSubmittedV1.model_validate({**kwargs, "late": 1})


# --- property: any valid number, in any spelling, is found and redacted ----------------------------

_DIGIT_ZEROS = [0x30, 0xFF10, 0x0660, 0x06F0, 0x0966, 0x1D7CE]  # ASCII, full-width, Arabic-Indic, …, math bold
_SEPARATORS = ["", "-", "+", " ", "\u2013", "\u2014", "\u2011", "\u2212", "\u00a0", " - ", "\u00a0-\u00a0",
               "\u202f", "\uff0d", "\u00ad"]


@st.composite
def spelled_numbers(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)))
    coordination = draw(st.booleans())
    yymmdd = f"{day:%y%m}{day.day + (60 if coordination else 0):02d}"
    serial = f"{draw(st.integers(0, 999)):03d}"
    number = yymmdd + serial + luhn_check_digit(yymmdd + serial)
    date_part = (f"{day.year // 100}" if draw(st.booleans()) else "") + number[:6]
    separator = draw(st.sampled_from(_SEPARATORS))
    zero = draw(st.sampled_from(_DIGIT_ZEROS))
    text = "".join(chr(zero + int(c)) if c.isdigit() else c for c in date_part + separator + number[6:])
    before = draw(st.sampled_from(["", "elev ", "stu-", "(", "kriterium: "]))
    after = draw(st.sampled_from(["", " har frånvaro", ")", "."]))
    return before + text + after


@settings(max_examples=300, derandomize=True, deadline=None)
@given(spelled_numbers())
def test_any_spelling_of_any_valid_number_is_found_and_redacted(text: str) -> None:
    assert contains_personal_identity_number(text)
    redacted, count = redact_personal_identity_numbers(text)
    assert count >= 1 and not contains_personal_identity_number(redacted)


@pytest.mark.parametrize(("link", "rule"), [
    ("https://p.example/elev/19121212-1212", "no_personal_identity_number"),
    ("https://p.example/%31%39121212-1212", "no_personal_identity_number"),
    ("https://p.example/?q=121212+1212", "no_personal_identity_number"),
    ("https://u:p@p.example/", "no_credentials"), ("https://u@p.example/", "no_credentials"),
    ("https://p.example/\u202e", "no_control_characters"), ("https://p.example/%EF%BF%BE", "no_noncharacters"),
])
def test_a_url_obeys_the_value_rules_as_written_and_decoded(link: str, rule: str) -> None:
    """Round 23c, failed on the old code: a URL (pydantic's `AnyUrl`, no `str`) passed `enforce_value_rules` unread."""
    from typing import Annotated

    from pydantic import AfterValidator, AnyHttpUrl

    from styrkedja_contracts.events.base import enforce_value_rules

    adapter = TypeAdapter(Annotated[AnyHttpUrl, AfterValidator(enforce_value_rules)])
    with pytest.raises(ValidationError) as refused:
        adapter.validate_python(link)
    assert [e["type"] for e in refused.value.errors()] == [rule]
    assert str(adapter.validate_python("https://platform.example/plans/77?term=HT#v36")) == (
        "https://platform.example/plans/77?term=HT#v36")
