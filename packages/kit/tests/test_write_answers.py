"""The write routes' answers: a single write answers 201 (the route's status) when it stored, 200 when it
was the same again; a batch 201 when it stored anything, 200 when nothing, with its counts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import Response

from styrkedja_kit.writes import counted_batch, single_answer


def _answers(*statuses: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(status=status, n=n) for n, status in enumerate(statuses)]


@pytest.mark.parametrize(("status", "code"), [("stored", 201), ("unchanged", 200)])
def test_a_single_write_is_200_only_when_it_changed_nothing(status: str, code: int) -> None:
    response = Response(status_code=201)
    [answer] = _answers(status)
    assert single_answer([answer], response) is answer and response.status_code == code


def test_a_single_write_has_exactly_one_answer() -> None:
    with pytest.raises(ValueError):
        single_answer(_answers("stored", "stored"), Response(status_code=201))


@pytest.mark.parametrize(("statuses", "code", "stored"), [
    (("stored", "unchanged", "stored"), 201, 2), (("unchanged", "unchanged"), 200, 0), (("stored",), 201, 1)])
def test_a_batch_is_200_only_when_nothing_was_stored(statuses: tuple[str, ...], code: int, stored: int) -> None:
    response = Response(status_code=201)
    answers = _answers(*statuses)
    assert counted_batch(answers, response) == {"items": answers, "stored": stored,
                                                "unchanged": len(statuses) - stored}
    assert response.status_code == code
