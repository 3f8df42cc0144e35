"""A batch's answer is encoded from the write path's own values without a model per item: the same
bytes as the response model (`BatchOut`) gives."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic_core import to_json

from styrkedja_forecast.forecasts.schemas import BatchOut, ForecastOut
from styrkedja_forecast.forecasts.service import _out, _out_item
from styrkedja_kit.writes import Outcome, batch_answer


def test_the_answer_is_the_response_models_json() -> None:
    outcomes = [Outcome(uuid.uuid4(), 3, False, True, {"late": True, "window_deadline": date(2027, 4, 2)}),
                Outcome(uuid.uuid4(), 1, True, False, {"late": False, "window_deadline": date(2026, 10, 30)})]
    expected = BatchOut(items=[ForecastOut.model_validate(_out(o).model_dump()) for o in outcomes],
                        stored=1, unchanged=1)
    assert to_json(batch_answer(outcomes, _out_item)) == expected.model_dump_json().encode()
