"""`identifiers.plain_json_without_pin` (decode36), the fast path's first question with the text translated once: it is
`is_plain_json(raw) and not plain_json_may_contain_personal_identity_number(raw)` for any bytes — plain or not (a
backslash, DEL, a letter outside `INERT_LETTERS`, bytes that are no UTF-8), with a personnummer in ten digits, with a
separator or spaces, an organisation number (its shape, not one), a UUID's digit groups beside them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from styrkedja_contracts.identifiers import (
    contains_personal_identity_number,
    is_plain_json,
    key_tokens,
    plain_json_key_tokens,
    plain_json_may_contain_personal_identity_number,
    plain_json_without_pin,
)

PIECES = [b"19121212-1212", b"191212121212", b"1212121212", b"121212 - 1212", b"121212+1212", b"121212  1212",
          b"214168-5760", b"121212-1213", b"0000000000", b"944c315f-39cb-4a76-9fc1-641b6f799120", b"20121212",
          b'"', b":", b"x", b"!", b" ", b"-", b".", b"_", b"+", b"\t", b"\\", b"\x7f", b"1", b"123456",
          "å".encode(), "–".encode(), "×".encode(), b"\xc3", b"\xff"]
TEXTS = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=3)), max_size=12).map(b"".join)


@settings(max_examples=3_000, deadline=None)
@given(TEXTS)
def test_one_translation_answers_both_questions(raw: bytes) -> None:
    assert plain_json_without_pin(raw) is (is_plain_json(raw) and not plain_json_may_contain_personal_identity_number(raw))


def test_a_personnummer_or_a_text_that_is_not_plain_is_not_taken() -> None:
    for pin in (b"1212121212", b"121212 - 1212", b"19121212-1212"):
        assert not plain_json_without_pin(b'{"note":"x' + pin + b'x","organiser_id":"214168-5760"}'), pin
    assert plain_json_without_pin(b'{"organiser_id":"214168-5760","at":"12:00:00.123456","name":"\xc3\xa5!"}')
    for other in (b'{"note":"a\\\\b"}', '{"a":"–"}'.encode(), b'{"a":"\x7f"}', '{"a":"×"}'.encode(), b'{"a":"\xff"}'):
        assert not plain_json_without_pin(other), other


# `plain_json_key_tokens` (read39): the two first questions of the fast path from the one translation. Its classes give
# JSON's blanks a class of their own (' ', the other separators '-'), so the candidate search must take both as a
# separator, and the key tokens may be counted in the text as it is only where it has no blank.

KEY_PIECES = [b'"', b":", b'":', b'" :', b'"\t:', b'"\n:', b'"\r:', b'"\x0c:', b'"\x0b:', b" ", b"\t", b"\n", b"\r",
              b"\x0c", b"\x0b", b"{", b"}", b",", b"a", b"1", b"121212", b"1212", b"-", b"+", b".", b"_"]


@settings(max_examples=3_000, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES + KEY_PIECES), st.binary(max_size=3)), max_size=16).map(b"".join))
def test_the_key_tokens_come_with_the_answer(raw: bytes) -> None:
    assert plain_json_key_tokens(raw) == (key_tokens(raw) if plain_json_without_pin(raw) else -1)
    assert key_tokens(raw) == raw.translate(None, b" \t\n\r").count(b'":')  # as the envelope counted them before


def test_the_key_tokens_in_text_with_blanks_are_counted_without_them() -> None:
    assert plain_json_key_tokens(b'{"a":1,"b" :2,"c"\t:\n3,"d"\r\n:4}') == 4
    # a string beginning with blanks and a colon counts too (more tokens than keys: the ordinary way decides)
    assert plain_json_key_tokens(b'{"a":1,"b":" :x"}') == 3
    # a form feed or a vertical tab is no JSON blank: not taken out (a '-' class, as before)
    assert plain_json_key_tokens(b'{"a"\x0c:1}') == 0 and plain_json_key_tokens(b'{"a"\x0b:1}') == 0
    assert plain_json_key_tokens(b'{"a":1}') == 1 and plain_json_key_tokens(b"{}") == 0


SEPARATED = [b"121212-1212", b"121212+1212", b"121212 1212", b"121212\t1212", b"121212_1212", b"121212.1212",
             b"121212 - 1212", b"19121212-1212", b"19121212 1212", b"1212121212",
             b"121212\n1212", b"121212\r1212", b"121212 \t 1212"]


def test_every_separator_class_still_separates_a_personnummer() -> None:
    """A candidate search that took only one of the two separator classes (' ' blanks, '-' the others) would pass
    these by: each is a personnummer by the exact scan, and refused by the pre-filter."""
    for pin in SEPARATED:
        text = pin.decode()
        assert contains_personal_identity_number(text), pin
        raw = b'{"note":"x ' + pin + b' x","organiser_id":"214168-5760"}'
        assert not plain_json_without_pin(raw) and plain_json_key_tokens(raw) == -1, pin
        assert plain_json_may_contain_personal_identity_number(raw), pin


@settings(max_examples=2_000, deadline=None)
@given(st.lists(st.sampled_from([*SEPARATED, b"214168-5760", b"2026-11-14", b"12:00:00.123456", b" ", b"-", b"a",
                                 b"0", b"19", b"+", b"\t"]), max_size=8).map(b"".join))
def test_the_pre_filter_never_passes_a_string_holding_a_personnummer(text: bytes) -> None:
    raw = b'{"note":"' + text + b'"}'
    if contains_personal_identity_number(text.decode()):
        assert plain_json_key_tokens(raw) == -1
