"""`identifiers.plain_json_without_pin` (decode36), the fast path's first question with the text translated once: it is
`is_plain_json(raw) and not plain_json_may_contain_personal_identity_number(raw)` for any bytes — plain or not (a
backslash, DEL, a letter outside `INERT_LETTERS`, bytes that are no UTF-8), with a personnummer in ten digits, with a
separator or spaces, an organisation number (its shape, not one), a UUID's digit groups beside them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from styrkedja_contracts.identifiers import (
    is_plain_json,
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
