"""Round 26: the LIKA compilation over time asked to compare a school year with itself.

Failed on the old code: `compare_to` equal to `school_year` (given, or the current one when `school_year` is left
out) was answered 200 with each unit "unchanged" against itself and the same figures as "this year" and "last
year" — a table that reads as a standstill of the whole organiser. Now a 422 naming `compare_to`."""

from __future__ import annotations

from datetime import datetime

import pytest

from styrkedja_devstack.testing import problem_fields
from styrkedja_reporting.lika.rules import SWEDEN, school_year_of

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


@pytest.mark.parametrize("given", [{"school_year": "2026/27", "compare_to": "2026/27"},
                                   {"compare_to": "<now>"}])
async def test_a_school_year_compared_with_itself_is_a_422_naming_compare_to(client, given):
    params = {k: school_year_of(datetime.now(SWEDEN)) if v == "<now>" else v for k, v in given.items()}
    answer = await client.get("/v1/lika/compilation/over-time", params={"organiser_id": "2999", **params})
    assert answer.status_code == 422, answer.text
    assert problem_fields(answer) == [("compare_to", "other_school_year")]
    other = await client.get("/v1/lika/compilation/over-time", params={
        "organiser_id": "2999", "school_year": "2026/27", "compare_to": "2024/25"})
    assert other.status_code == 200, other.text
