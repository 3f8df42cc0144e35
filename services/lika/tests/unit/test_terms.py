from __future__ import annotations

import pytest
from pydantic import ValidationError

from styrkedja_lika.domain import SchoolTerm


def test_parse_shift_and_format() -> None:
    ht = SchoolTerm.parse("HT 2026/27")
    assert str(ht) == "HT 2026/27"
    assert str(ht.shift(1)) == "VT 2026/27"
    assert str(ht.shift(2)) == "HT 2027/28"
    assert str(ht.shift(3)) == "VT 2027/28"
    assert str(SchoolTerm.parse("VT 2099/00").shift(1)) == "HT 2100/01"
    assert ht.shift(-1) == SchoolTerm.parse("VT 2025/26")
    assert ht < ht.shift(1) and ht <= ht


@pytest.mark.parametrize("text", ["HT 2026", "ST 2026/27", "HT 2026/28", ""])
def test_invalid_terms(text: str) -> None:
    with pytest.raises((ValueError, ValidationError)):
        SchoolTerm.parse(text)
