"""The write routes' answers: a single write answers 201 (the route's status) when it stored, 200 when it
was the same again; a batch 201 when it stored anything, 200 when nothing, with its counts, each item's
fields named as the record's tables name them."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

import pytest
from fastapi import Response
from sqlalchemy import MetaData

from styrkedja_kit.writes import Outcome, RecordTables, answer_fields, encoded_batch_answer, single_answer

TABLES = RecordTables.define(MetaData(), "thing", current="things", revisions="thing_revisions", id_column="thing_id",
                             removed_column="dropped", removal_column="drop", columns=[])


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


@pytest.mark.parametrize(("stored", "code"), [((True, False, True), 201), ((False, False), 200), ((True,), 201)])
def test_a_batch_is_200_only_when_nothing_was_stored(stored: tuple[bool, ...], code: int) -> None:
    outcomes = [Outcome(uuid.uuid4(), n + 1, n == 2, flag, {"late": n == 0}) for n, flag in enumerate(stored)]
    status, body = encoded_batch_answer(outcomes, answer_fields(TABLES, "late"))
    assert status == code
    assert json.loads(body) == {
        "items": [{"thing_id": str(o.record_id), "revision": o.revision, "dropped": o.removed, "late": o.row["late"],
                   "status": "stored" if o.stored else "unchanged"} for o in outcomes if o.row is not None],
        "stored": sum(stored), "unchanged": len(stored) - sum(stored)}
    assert list(json.loads(body)["items"][0]) == ["thing_id", "revision", "dropped", "late", "status"]  # the model's order
