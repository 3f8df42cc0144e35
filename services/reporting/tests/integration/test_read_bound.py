"""A results read holds all its rows and cells until encoded, so one is bounded (`results.read.TooManyCells`,
`ReportingSettings.results_read_max_cells`): at the bound it is answered whole, past it refused whole (422 naming
the rule, the bound and the filters that narrow it), never answered in part. The state: three students, each one
cell at student level (two of organiser 2999, one of 3001)."""

from __future__ import annotations

import pytest

from styrkedja_devstack.testing import service_client
from styrkedja_kit.db import Database
from styrkedja_reporting.results import read

from .test_read_api import fed  # noqa: F401  (the fixture: three students of two organisers)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


async def _get(settings, token: str, max_cells: int, params: dict[str, str], path: str = "/v1/results/assessments"):
    read.KEPT.clear()
    bounded = settings.model_copy(update={"results_read_max_cells": max_cells, "read_cache_enabled": False})
    async with service_client("styrkedja_reporting", bounded) as c:
        return await c.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


def _refused(response, max_cells: int) -> list[dict[str, str]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert errors and {e["rule"] for e in errors} == {"too_many_cells"}
    assert all(f"more than {max_cells:,} cells" in e["message"] for e in errors)
    return errors


async def test_a_read_at_the_bound_is_answered_whole(settings, admin_token, fed):  # noqa: F811
    every = await _get(settings, admin_token, 3, {"level": "student"})
    assert every.status_code == 200
    assert sorted(c["unit_id"] for c in every.json()) == ["s-1", "s-2", "s-3"]
    one = await _get(settings, admin_token, 2, {"level": "student", "organiser_id": "2999", "format": "csv"})
    assert one.status_code == 200 and one.text.count("s-") == 2


async def test_a_read_past_the_bound_is_refused_naming_what_narrows_it(settings, admin_token, fed):  # noqa: F811
    errors = _refused(await _get(settings, admin_token, 2, {"level": "student"}), 2)
    assert {"organiser_id", "unit_id", "subject_code", "school_year"} <= {e["field"] for e in errors}
    # a filter given is not named again; in every format, never a part of the cells
    narrowed = _refused(await _get(settings, admin_token, 1, {"level": "student", "organiser_id": "2999",
                                                              "format": "csv"}), 1)
    assert "organiser_id" not in {e["field"] for e in narrowed}
    _refused(await _get(settings, admin_token, 2, {"level": "group"}), 2)  # groups: 3, one row each
    _refused(await _get(settings, admin_token, 1, {"level": "organiser"}), 1)


async def test_a_read_cut_by_its_querys_limit_is_refused(settings, fed, monkeypatch):  # noqa: F811
    # a read whose rows are its answer (no reader's cells picked after the query): one row a cell, the query takes
    # 1 + the bound rows at most, so of the three students' rows two are fetched — the limit reached, the rest
    # never read, the read refused
    monkeypatch.setattr(read, "VALUES_PER_CELL", 1)
    fetched: list[int] = []
    cells_of = read._cells

    async def counted(parts, group_by, scale_of, bound=None):
        try:
            return await cells_of(parts, group_by, scale_of, bound)
        finally:
            fetched.append(bound.rows)

    monkeypatch.setattr(read, "_cells", counted)
    database = Database(settings.database_url)
    try:
        async with database.sessions() as session:
            with pytest.raises(read.TooManyCells):
                await read.read_cells(session, "assessments", "student", read.Filters(), max_cells=1)
            assert fetched == [2]
            whole = await read.read_cells(session, "assessments", "student", read.Filters(), max_cells=3)
            assert len(whole) == 3 and fetched[-1] == 3
    finally:
        await database.dispose()


async def test_the_bound_is_in_the_operations_description(settings, admin_token):
    async with service_client("styrkedja_reporting", settings) as c:
        paths = (await c.get("/openapi.json", headers={"Authorization": f"Bearer {admin_token}"})).json()["paths"]
    for path in ("/v1/results/assessments", "/v1/results/forecasts"):
        assert "STYRKEDJA_RESULTS_READ_MAX_CELLS" in paths[path]["get"]["description"]
        assert "too_many_cells" in paths[path]["get"]["description"]


async def test_a_principal_s_read_counts_only_the_cells_it_may_read(settings, token_issuer, fed):  # noqa: F811
    # organiser 2999 has two students, one in the principal's unit: with a bound of one cell its own student is
    # answered (its organiser's other student read past, never counted), and a bound it passes is still refused
    principal = token_issuer.mint(roles=["principal"], organisers=["2999"], school_units=["11111111"],
                                  subject="rektor-bound")
    own = await _get(settings, principal, 1, {"level": "student", "organiser_id": "2999"})
    assert own.status_code == 200, own.text
    assert [c["unit_id"] for c in own.json()] == ["s-1"]
    both = token_issuer.mint(roles=["principal"], organisers=["2999"], school_units=["11111111", "22222222"],
                             subject="rektor-bound-2")
    _refused(await _get(settings, both, 1, {"level": "student", "organiser_id": "2999"}), 1)
    answered = await _get(settings, both, 2, {"level": "student", "organiser_id": "2999"})
    assert sorted(c["unit_id"] for c in answered.json()) == ["s-1", "s-2"]


async def test_every_parameter_a_refusal_names_is_one_its_operation_takes(settings, admin_token):
    """Failed before: a forecasts read too large was told to narrow by `round` and `kind`, parameters only the
    assessments read takes (one list of narrowing parameters for both)."""
    async with service_client("styrkedja_reporting", settings) as c:
        paths = (await c.get("/openapi.json", headers={"Authorization": f"Bearer {admin_token}"})).json()["paths"]
    for kind in ("assessments", "forecasts"):
        taken = {p["name"] for p in paths[f"/v1/results/{kind}"]["get"]["parameters"] if p["in"] == "query"}
        named = {e["field"] for e in read.TooManyCells(1, read.Filters(), kind).errors}
        assert named and named <= taken, (kind, sorted(named - taken))
