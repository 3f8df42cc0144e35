"""The rebuild's COPY text (`rebuild.bulk.copy_text`): made by the line makers and checked once as a whole, it must be
exactly the text of every value escaped one by one (`_copy_value`), whichever rows of a piece hold something to escape."""

from __future__ import annotations

import enum
import random
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from styrkedja_reporting.rebuild import bulk
from styrkedja_reporting.rebuild.bulk import copy_text


class _Kind(enum.StrEnum):
    TERM_GRADE = "term_grade"


def _reference(rows: list[tuple]) -> bytes:
    return "".join("\t".join(bulk._copy_value(v) for v in row) + "\n" for row in rows).encode()


_TEXTS = ("vanlig text: åäö", "", "N", "\\N", "a\tb", "a\nb", "a\rb", "back\\slash", "\t", "\\", "\n\r", "x\\ty")


def _rows(rng: random.Random, count: int, special: float) -> list[tuple]:
    when = datetime(2026, 3, 1, 10, tzinfo=UTC)
    rows = []
    for n in range(count):
        texts = [rng.choice(_TEXTS) if rng.random() < special else f"stu-{rng.getrandbits(24):06x}" for _ in range(2)]
        rows.append((n, UUID(int=rng.getrandbits(128)), texts[0], when + timedelta(seconds=n),
                     rng.choice([date(2026, 11, 2), None]), rng.choice([b"\x00\\\t\xff", b"", None]),
                     rng.random() < 0.5, texts[1], rng.choice([None, 7, -3])))
    return rows


@pytest.mark.parametrize("special", [0.0, 0.001, 0.05, 1.0])
def test_copy_text_equals_every_value_escaped_one_by_one(special):
    rng = random.Random(16)
    for count in (0, 1, 2, 500):
        rows = _rows(rng, count, special)
        assert copy_text(rows) == _reference(rows)


def test_one_row_to_escape_among_many_is_escaped_and_the_others_are_unchanged():
    rows = _rows(random.Random(1), 1000, 0.0)
    for position in (0, 499, 999):
        for bad in ("a\tb", "a\nb", "a\rb", "a\\b"):
            mixed = [*rows[:position], (*rows[position][:2], bad, *rows[position][3:]), *rows[position + 1:]]
            out = copy_text(mixed)
            assert out == _reference(mixed)
            assert out.count(b"\n") == len(mixed)  # the newline in a value escaped: one line per row


def test_a_str_subclass_and_the_types_without_a_text_form_take_the_per_value_way():
    when = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [(1, "plain", when), (2, _Kind.TERM_GRADE, when)]
    assert copy_text(rows) == b"1\tplain\t" + when.isoformat().encode() + b"\n2\tterm_grade\t" + \
        when.isoformat().encode() + b"\n"
    with pytest.raises(TypeError):
        copy_text([(1, datetime(2026, 3, 1))])  # naive
    with pytest.raises(TypeError):
        copy_text([(1, 1.5)])
