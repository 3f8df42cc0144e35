"""Privacy round 30b: shares beside rounded counts, and the freshness headers across organisers, against a real
reporting service on a real PostgreSQL.

Found and fixed (each test failed on the old code, as said at it):
- Shares beside rounded counts (round 30's open finding): with the optional rounding on
  (`disclosure_round_counts_to` = 5) a politician read south's 20 assessed and 15 reaching the pass level beside a
  share of 0.7273, computed from the exact counts — of the fractions with 18–22 students only 16/22 gives it. The
  same in every figure beside rounded counts: the trend's change (2/22 → 0.0909), the gender gap's shares (boys 10
  shown, 0.4545: only 5/11), coverage (20 with a result of 25 on the roster, 0.88: only 22/25), forecast against
  outcome (15 held, 5 not, 0.7273), the drill-down, an alert's shares and change. Now, wherever counts are rounded
  for a reader, every share is computed from the counts as shown, a difference from those shares, and a figure that
  cannot be computed from shown counts (a mean merit value; the drill-down's gender gap, whose gender parts it does
  not show; a below-forecast alert's change) is withheld — in the one read path: `Disclosure.share` for the results,
  `guard.derive_from_shown` for every figure and support table (each share column says what it is of:
  `exports.table.Ratio`/`Difference`), the alerts' `as_read` and the support summary by the same rule; CSV and xlsx
  render those tables, so they hold the JSON's numbers. The `~100` option is untouched (a `~100` share is no number;
  its outcome counts are withheld, and a gap or change beside it is withheld by `Disclosure.derived`).
- `X-Styrkedja-Consumer-Lag` was the lag of the whole service, on every read: between two reads of one politician's
  unchanged figures it moved with another organiser's writes. Told now, as the newest event's time is (round 30), to
  operations alone, `withheld` to every other reader (`freshness.consumer_lag_for`), on kept answers and 304s alike;
  the OpenAPI documents say so.

Tried and held (no change needed):
- An ETag is the hash of the reader's own answer: a politician's read of one organiser keeps its ETag (and gets a
  304) when only another organiser's data changed (test below).
- Problem details name the field and the rule, never a count or a time of another organiser.

Found and not changed (reported):
- `/readyz` and `/metrics` take no token (the kit's `OPEN_PATHS`, for the orchestrator's probes and Prometheus): their
  consumer lag, freshness and event counters are every organiser's, to anyone who can reach the port. The deploy
  README says to keep `/metrics` off a public proxy; nothing says so of `/readyz`. (Mended by hostile round 30o,
  tests/test_hostile_round30o.py: the consumer detail to an `ops` token alone, `/metrics` off the API's port.)
- The ICT coordinator reads results and figures at school-unit level (`styrkedja_kit.auth.policy.GRANTS`), which no
  line of DESIGN.md's users table ("school-level reporting" is the principal's) or the README gives a reason for.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from fractions import Fraction
from uuid import uuid4, uuid5

import pytest

from styrkedja_kit.db import Database
from styrkedja_reporting import freshness
from styrkedja_reporting.settings import ReportingSettings

from .test_directory import NS, Feeder, membership, unit
from .test_figures import forecast, result
from .test_privacy_round30 import two_organisers  # noqa: F401 (a fixture)
from .test_rounded_counts import store_area_alert

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, OTHER = "2999", "3001"
#: area → (school unit code, students): one result each in mathematics, every fourth F (the boys' own), girls odd
AREAS = {"north": ("11111111", 12), "south": ("22222222", 22), "east": ("33333333", 31)}
BASE = 5
TERM = {"school_year": "2026/27", "term": "HT"}
READ = {"level": "area", "organiser_id": ORG, "subject_code": "GRGRMAT01", **TERM}


def rounded(n: int) -> int:
    return int(Fraction(n, BASE) + Fraction(1, 2)) * BASE


@pytest.fixture
def settings(settings, monkeypatch) -> ReportingSettings:
    """The shared `settings` (conftest) with counts rounded to 5."""
    monkeypatch.setenv("STYRKEDJA_DISCLOSURE_ROUND_COUNTS_TO", str(BASE))
    return ReportingSettings()


@pytest.fixture
async def fed(settings):
    """South: 22 students assessed (16 C, 6 F; 11 girls all C, 11 boys 5 C), each with a forecast "reaches"; in the
    previous term 22 results, 14 C; 25 on the roster."""
    database = Database(settings.database_url)
    events = [unit("organiser", ORG, ORG, None)]
    for area, (code, n) in AREAS.items():
        events += [unit("area", area, ORG, ORG), unit("school_unit", f"su-{area}", ORG, area, code=code),
                   unit("group", "7A", ORG, f"su-{area}", code=code, year=7)]
        for i in range(n):
            # north's of unknown gender: no gender part of 6 withheld, whose complement would be south's
            student, gender = f"s-{area}-{i}", "unknown" if area == "north" else "female" if i % 2 else "male"
            events += [result(uuid5(NS, f"r30b-{area}-{i}"), 1, "C" if i % 4 else "F", ORG, code, "7A", student,
                              gender=gender, year=7, on=date(2026, 10, 1)),
                       membership(f"m-{area}-{i}", ORG, code, "7A", student, date(2026, 8, 1)),
                       forecast(None, 1, "ACCEPTABLE", ORG, code, "7A", student, subject="GRGRMAT01", gender=gender,
                                year=7, on=date(2026, 9, 1), **TERM)]
            if area == "south":
                events.append(result(uuid5(NS, f"r30b-vt-{i}"), 1, "C" if i % 3 else "F", ORG, code, "7A", student,
                                     gender=gender, year=7, school_year="2025/26", term="VT", on=date(2026, 4, 1)))
        if area == "south":
            events += [membership(f"m-south-x{k}", ORG, code, "7A", f"s-south-x{k}", date(2026, 8, 1))
                       for k in range(3)]
    await Feeder(database)(events)
    yield database
    await database.dispose()


def _bearer(token_issuer, role: str, **claims) -> dict[str, str]:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], organisers=[ORG], **claims)}


async def _rows(client, path: str, headers, params) -> dict[str, dict]:
    response = await client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return {r["unit_id"]: r for r in response.json()["rows"]}


def gives_back(share: float | None, whole: int | None, exact: tuple[int, int], part: int | None = None) -> bool:
    """The reader's attack: of the counts that round to those shown (a whole within ±2 of `whole`, a part within ±2 of
    `part` where shown), those whose share, to 4 decimals, is the share shown — only the exact counts."""
    if share is None or whole is None:
        return False
    candidates = {(w, p) for w in range(max(whole - 2, 1), whole + 3) for p in range(w + 1)
                  if rounded(w) == whole and (part is None or rounded(p) == part) and round(p / w, 4) == share}
    return candidates == {exact}


def of_shown(part: int, whole: int) -> float:
    return round(part / whole, 4)


async def test_the_results_share_is_of_the_counts_shown(fed, bare_client, token_issuer):
    """Failed on the old code: south answered 20 assessed, 15 reaching, 0.7273 (only 16/22)."""
    politician = _bearer(token_issuer, "politician")
    response = await bare_client.get("/v1/results/assessments", headers=politician, params=READ)
    assert response.status_code == 200, response.text
    south = {c["unit_id"]: c for c in response.json()}["south"]
    assert (south["assessed"], south["reaching_pass"]) == (20, 15)
    assert south["share_reaching_pass"] == of_shown(15, 20)
    assert not gives_back(south["share_reaching_pass"], 20, (22, 16), 15)
    csv_answer = await bare_client.get("/v1/results/assessments", headers=politician,
                                       params={**READ, "format": "csv"})
    assert csv_answer.status_code == 200, csv_answer.text
    assert "0.7273" not in csv_answer.text and "0,7273" not in csv_answer.text
    # the organiser admin reads exactly, the share of its exact counts
    exact = await bare_client.get("/v1/results/assessments", headers=_bearer(token_issuer, "organiser_admin"),
                                  params=READ)
    assert {c["unit_id"]: c for c in exact.json()}["south"]["share_reaching_pass"] == 0.7273


async def test_trend_and_history_shares_and_change_are_of_the_counts_shown(fed, bare_client, token_issuer):
    """Failed on the old code: the trend showed 15/20 with 0.7273, 15/20 then with 0.6364 (14/22) and a change of
    0.0909 (2/22)."""
    politician = _bearer(token_issuer, "politician")
    trend = (await _rows(bare_client, "/v1/figures/trend", politician, {**READ, "compare": "previous_term"}))["south"]
    assert (trend["assessed"], trend["reaching"], trend["previous_assessed"], trend["previous_reaching"]) == \
        (20, 15, 20, 15)
    assert trend["share"] == trend["previous_share"] == of_shown(15, 20) and trend["change"] == 0.0
    assert not gives_back(trend["share"], 20, (22, 16), 15)
    assert not gives_back(trend["previous_share"], 20, (22, 14), 15)
    history = (await _rows(bare_client, "/v1/figures/history", politician, {**READ, "periods": 2}))["south"]
    assert history["share"] in (of_shown(15, 20), None)
    for area, row in (await _rows(bare_client, "/v1/figures/history", politician, {**READ, "periods": 1})).items():
        assert row["share"] == of_shown(row["reaching"], row["assessed"]), (area, row)


async def test_gender_gap_shares_are_of_the_counts_shown(fed, bare_client, token_issuer):
    """Failed on the old code: boys 10 assessed (shown) with 0.4545 — only 5/11; the gap of the exact shares."""
    politician = _bearer(token_issuer, "politician")
    rows = await _rows(bare_client, "/v1/figures/gender-gap", politician, READ)
    south = rows["south"]
    assert (south["girls_assessed"], south["boys_assessed"], south["assessed"]) == (10, 10, 20)
    assert south["boys_share"] == of_shown(5, 10) and south["girls_share"] == 1.0
    assert not gives_back(south["boys_share"], 10, (11, 5))
    assert south["share"] == of_shown(15, 20)
    for area, row in rows.items():
        if row["gap"] is not None:
            assert abs(row["gap"] - (row["girls_share"] - row["boys_share"])) < 1e-4, (area, row)
    # the drill-down shows no gender part: its gap is withheld where counts are rounded, its share of them as shown
    drill = await _rows(bare_client, "/v1/figures/drill-down", politician, {**READ, "level": "organiser",
                                                                            "unit_id": ORG})
    assert drill["south"]["share"] == of_shown(15, 20) and drill["south"]["gap"] is None


async def test_coverage_and_forecast_shares_are_of_the_counts_shown(fed, bare_client, token_issuer):
    """Failed on the old code: coverage 20 of 25 with 0.88 (only 22/25); 15 held and 5 not with 0.7273 held."""
    politician = _bearer(token_issuer, "politician")
    coverage = (await _rows(bare_client, "/v1/figures/coverage", politician, {**READ, "on": "2026-10-01"}))["south"]
    assert (coverage["with_result"], coverage["roster_size"]) == (20, 25)
    assert coverage["share"] == of_shown(20, 25)
    assert not gives_back(coverage["share"], 25, (25, 22), 20)
    rows = await _rows(bare_client, "/v1/figures/forecast-outcome", politician, READ)
    south = rows["south"]
    assert (south["held"], south["said_reaches_did_not"]) == (15, 5)
    assert south["share_held"] == of_shown(15, 20)
    for area, row in rows.items():
        if row["share_held"] is not None:
            compared = row["held"] + row["said_reaches_did_not"] + row["said_not_reached_did"]
            assert row["share_held"] == of_shown(row["held"], compared), (area, row)
    table = await bare_client.get("/v1/figures/forecast-outcome", headers=politician, params={**READ, "format": "csv"})
    by_unit = {r["Enhet"]: r for r in csv.DictReader(io.StringIO(table.text.lstrip("\ufeff")), delimiter=";")}
    assert by_unit["south"]["Andel som höll"] in ("0.75", "0,75"), by_unit["south"]


async def test_an_alerts_shares_are_of_the_students_shown(settings, bare_client, token_issuer):
    """Failed on the old code: an area manager read 20 and 30 students beside 0.7273 and 1.0 (16/22 and 31/31)."""
    await store_area_alert(settings, 0.7273, -27.27)
    response = await bare_client.get("/v1/alerts", headers=_bearer(token_issuer, "area_manager", areas=["north"]))
    assert response.status_code == 200, response.text
    figures = response.json()[0]["figures"]
    assert (figures["students"], figures["compared_students"]) == (20, 30)
    assert (figures["share"], figures["compared_share"], figures["change_points"]) == (0.75, 1.0, -25.0)
    assert not gives_back(figures["share"], 20, (22, 16))


async def test_the_consumer_lag_is_told_to_operations_alone(two_organisers, bare_client, token_issuer,  # noqa: F811
                                                          monkeypatch):
    """Failed on the old code: the politician of 2999 read the service's lag (7 here) in every answer's header."""
    monkeypatch.setattr(freshness, "_lag_source", lambda: 7)
    params = {"level": "area", "organiser_id": ORG}
    politician = _bearer(token_issuer, "politician")
    first = await bare_client.get("/v1/results/assessments", headers=politician, params=params)
    assert first.status_code == 200, first.text
    assert first.headers["X-Styrkedja-Consumer-Lag"] == "withheld"
    kept = await bare_client.get("/v1/results/assessments", headers=politician, params=params)
    assert kept.headers["X-Styrkedja-Consumer-Lag"] == "withheld"
    again = await bare_client.get("/v1/results/assessments", params=params,
                                  headers={**politician, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.headers["X-Styrkedja-Consumer-Lag"] == "withheld"
    figures = await bare_client.get("/v1/figures/history", headers=politician, params={**params, **TERM})
    assert figures.headers["X-Styrkedja-Consumer-Lag"] == "withheld"
    ops = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin", "ops"], organisers=[ORG])}
    assert (await bare_client.get("/v1/results/assessments", headers=ops, params=params)).headers[
        "X-Styrkedja-Consumer-Lag"] == "7"
    document = (await bare_client.get("/openapi.json", headers=ops)).json()
    header = document["paths"]["/v1/results/assessments"]["get"]["responses"]["200"]["headers"][
        "X-Styrkedja-Consumer-Lag"]
    assert "withheld" in header["description"]


async def test_an_etag_does_not_move_with_another_organisers_data(two_organisers, bare_client,  # noqa: F811
                                                                 token_issuer):
    """Held: the ETag is the hash of the reader's own answer; another organiser's result changes the state version
    (the kept answers are dropped) but not the politician's answer, so its ETag still matches (304)."""
    _, feeder = two_organisers
    params = {"level": "area", "organiser_id": ORG}
    politician = _bearer(token_issuer, "politician")
    for n, (path, extra) in enumerate((("/v1/results/assessments", {}), ("/v1/figures/history", TERM))):
        first = await bare_client.get(path, headers=politician, params={**params, **extra})
        assert first.status_code == 200, first.text
        await feeder([unit("organiser", OTHER, OTHER, None),
                      result(uuid4(), 1, "C", OTHER, "22222222", "7A", f"s-other-{n}")])
        again = await bare_client.get(path, params={**params, **extra},
                                      headers={**politician, "If-None-Match": first.headers["etag"]})
        assert again.status_code == 304, (path, again.status_code)
