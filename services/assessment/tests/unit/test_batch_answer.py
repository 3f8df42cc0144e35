"""A batch's answer is encoded from the write path's own values without a model per item: the same
bytes as the response model (`BatchOut`) gives."""

from __future__ import annotations

import uuid

from pydantic_core import to_json

from styrkedja_assessment.assessments.schemas import AssessmentOut, BatchOut
from styrkedja_assessment.assessments.service import _out, _out_item
from styrkedja_kit.writes import Outcome, batch_answer, http_status


def test_the_answer_is_the_response_models_json() -> None:
    outcomes = [Outcome(uuid.uuid4(), 3, False, True, None), Outcome(uuid.uuid4(), 1, False, False, None),
                Outcome(uuid.uuid4(), 2**31 - 1, True, True, None)]
    expected = BatchOut(items=[AssessmentOut.model_validate(_out(o).model_dump()) for o in outcomes],
                        stored=2, unchanged=1)
    assert to_json(batch_answer(outcomes, _out_item)) == expected.model_dump_json().encode()
    assert http_status(outcomes) == 201 and http_status(outcomes[1:2]) == 200
