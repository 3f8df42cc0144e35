"""The school year a read names (`SchoolYearParam`, query): the bound of every school year a write takes
(`school_year_within_years`, 1900/01–2198/99), a 422 naming the parameter and the rule `date_range`. Before, a
question of a school year no write may store (`2199/00` to `9998/99`; one before 1900/01 was refused already) was read and answered empty."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "2999"
#: each read naming a school year in a query: its path, its other parameters, the parameter named
READS = [
    ("/v1/compliance/organisers/2999/school-units", {"term": "HT"}, "school_year"),
    ("/v1/figures/coverage", {"level": "organiser", "organiser_id": ORG, "term": "HT"}, "school_year"),
    ("/v1/results/assessments", {"level": "organiser", "organiser_id": ORG}, "school_year"),
    ("/v1/support/plan-coverage", {"term": "HT", "level": "organiser", "unit_id": ORG, "organiser_id": ORG}, "school_year"),
    ("/v1/lika/compilation/over-time", {"organiser_id": ORG}, "school_year"),
    ("/v1/lika/compilation/over-time", {"organiser_id": ORG}, "compare_to"),
]


@pytest.mark.parametrize(("path", "params", "name"), READS)
@pytest.mark.parametrize("school_year", ["2199/00", "9998/99"])
async def test_a_school_year_past_the_bound_is_refused_naming_the_parameter(client, path, params, name,
                                                                           school_year) -> None:
    answer = await client.get(path, params={**params, name: school_year})
    assert answer.status_code == 422, answer.text
    assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [(name, "date_range")], answer.text
    assert "1900/01 to 2198/99" in answer.json()["errors"][0]["message"]


@pytest.mark.parametrize(("path", "params", "name"), READS)
@pytest.mark.parametrize("school_year", ["2198/99", "1900/01"])
async def test_the_bound_s_own_school_years_are_read(client, path, params, name, school_year) -> None:
    answer = await client.get(path, params={**params, name: school_year})
    assert answer.status_code == 200, answer.text
