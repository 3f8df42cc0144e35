"""`styrkedja demo` at small scale against the four services as processes, every request with a
token: the directory imported from the SS 12000 dump, results published with a platform client's
token and LIKA with each unit's principal's. The story is in reporting's API, read as the
organiser's admin: the dip, the gender gap, the stale school (freshness red), the teacher team that
has not reported (the compliance list), late flags for the past windows, LIKA far ahead and far
behind; a second run changes nothing."""

from __future__ import annotations

import math
import time

import httpx
import pytest
from typer.testing import CliRunner

from styrkedja_cli.main import app
from styrkedja_demo import generator

# two whole demo runs (import, publish) and reporting applying them, on a 2-core machine others share
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(1800), pytest.mark.one_broker]

SEED, STUDENTS = 11, 600


def _metric(text: str, name: str) -> dict[str, float]:
    """`name`'s samples summed per topic label (all of them under "" when the metric has no topic)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) + 1:].rsplit("} ", 1)
            topic = next((part.split("=", 1)[1].strip('"') for part in labels.split(",")
                          if part.startswith("topic=")), "")
            out[topic] = out.get(topic, 0.0) + float(value)
    return out


def wait_for_no_lag(reporting_url: str, timeout: float = 600, producers: tuple[str, ...] = ()) -> None:
    """Everything published is applied: the producing services' outboxes are empty, reporting has
    seen (applied, skipped as a duplicate or dead-lettered) at least as many events per topic as they
    published, and its applied count stands still. Lag alone cannot say it on the embedded broker
    (end offsets not trusted), nor can a pause in applying (one big batch takes seconds)."""
    deadline = time.monotonic() + timeout
    lags: list[str] = []
    applied, still, missing = -1.0, 0, {}
    while time.monotonic() < deadline:
        try:  # reporting is busy applying: its metrics may answer slowly
            produced = [httpx.get(url + "/metrics", timeout=30).text for url in producers]
            text = httpx.get(reporting_url + "/metrics", timeout=30).text
        except httpx.TimeoutException:
            continue
        backlog = sum(sum(_metric(t, "styrkedja_outbox_backlog").values()) for t in produced)
        published: dict[str, float] = {}
        for t in produced:
            for topic, n in _metric(t, "styrkedja_outbox_published_total").items():
                if topic != "styrkedja.alerts":  # reporting's own output, not consumed by it
                    published[topic] = published.get(topic, 0.0) + n
        seen: dict[str, float] = {}
        for name in ("styrkedja_consumer_events_applied_total", "styrkedja_consumer_duplicates_total",
                     "styrkedja_consumer_dead_lettered_total"):
            for topic, n in _metric(text, name).items():
                seen[topic] = seen.get(topic, 0.0) + n
        missing = {topic: n - seen.get(topic, 0.0) for topic, n in published.items() if seen.get(topic, 0.0) < n}
        lags = [line for line in text.splitlines() if line.startswith("styrkedja_consumer_lag_events{")]
        values = [float(line.rsplit(" ", 1)[1]) for line in lags]
        now_applied = sum(_metric(text, "styrkedja_consumer_events_applied_total").values())
        quiet = (not backlog and not missing and not any(v for v in values if not math.isnan(v))
                 and now_applied == applied)
        still = still + 1 if quiet else 0
        applied = now_applied
        if still >= 4:  # two seconds without a new applied event, nothing waiting anywhere
            return
        time.sleep(0.5)
    raise AssertionError(f"the reporting consumer did not catch up: {lags}; not yet seen: {missing}")


def rows(body: list[dict] | dict) -> list[dict]:
    """A table endpoint's rows (JSON tables are `{"rows": [...], ...}`; plain lists pass through)."""
    return body["rows"] if isinstance(body, dict) else body


def share(cells: list[dict]) -> float:
    assessed = sum(c["assessed"] for c in cells)
    assert assessed, "no figures"
    return sum(c["reaching_pass"] for c in cells) / assessed


def run_demo(stack, token_issuer, dump_dir) -> str:
    """The command as a newcomer runs it; the dev issuer's state dir is where its key is."""
    result = CliRunner().invoke(app, [
        "demo", "--seed", str(SEED), "--students", str(STUDENTS), "--dump-dir", str(dump_dir),
        "--state-dir", str(token_issuer.folder.parent),
        "--assessment-url", stack.url("assessment"), "--forecast-url", stack.url("forecast"),
        "--lika-url", stack.url("lika"), "--reporting-url", stack.url("reporting")], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.output


# On the package's shared stack, not one of its own (18 s of setup): it kills, stops or restarts nothing, and every
# check reads the demo municipality's own organiser, whose ids no other test writes (the README pictures, when asked
# for, run this same demo: a run before this one is one more identical run, which changes nothing)
def test_the_story_of_mittkoping_is_visible_in_reporting(stack, token_issuer, tmp_path) -> None:
    muni = generator.generate(SEED, STUDENTS)
    story, code = muni.story, muni.organiser_code
    output = run_demo(stack, token_issuer, tmp_path / "ss12000")
    assert f"imported from {tmp_path / 'ss12000'}" in output
    assert "tokens signed by the dev issuer" in output
    reporting = stack.url("reporting")
    producers = tuple(stack.url(name) for name in ("assessment", "forecast", "lika", "reporting"))
    wait_for_no_lag(reporting, producers=producers)
    admin = stack.tokens.admin(code)

    def get(path: str, **params) -> list[dict]:
        response = httpx.get(reporting + path, params=params, headers=admin, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def cells(path: str, **params) -> list[dict]:
        return get(path, organiser_id=code, **params)

    # the directory came in from the SS 12000 dump: the tree has the areas and every school unit
    tree = get(f"/v1/directory/organisers/{code}/tree")

    def flat(units: list[dict]) -> list[dict]:
        return [x for u in units for x in (u, *flat(u["children"]))]

    assert {u["school_unit_code"] for u in flat(tree) if u["unit_type"] == "school_unit"} == {u.code for u in muni.units}
    assert sum(u["unit_type"] == "area" for u in flat(tree)) == len(muni.areas)

    # every level has figures
    for level in ("organiser", "area", "school_unit", "group"):
        assert cells("/v1/results/assessments", level=level), level
        assert cells("/v1/results/forecasts", level=level), level

    # the dip: this term's mathematics at the dip school against the round before
    dip = muni.unit_named(story.dip_school).code
    maths = cells("/v1/results/assessments", level="school_unit", unit_id=dip, subject_code=story.dip_subject,
                  kind="assessment")
    now, before = story.rounds[-1], story.rounds[-2]

    def of(r) -> list[dict]:
        return [c for c in maths if (c["school_year"], c["term"], c["round"]) == (r.school_year, r.term, r.round)]

    assert share(of(before)) - share(of(now)) > 0.15, maths

    # the gender gap in Swedish
    gap = muni.unit_named(story.gap_school).code
    swedish = cells("/v1/results/assessments", level="school_unit", unit_id=gap, subject_code=story.gap_subject,
                    split="gender")
    girls = share([c for c in swedish if c["gender"] == "female"])
    boys = share([c for c in swedish if c["gender"] == "male"])
    assert girls - boys > 0.15, (girls, boys)

    # stale results: seen on the day of this term's round, the stale school's newest result of the
    # previous school year is a year old (red); every other school's is from its spring (not red)
    stale = muni.unit_named(story.stale_school).code
    # freshness is read per period: a unit's band is the one of its newest result in any of them
    newest: dict[str, dict] = {}
    for period in ({"term": "HT"}, {"term": "VT"}, *({"round": n} for n in range(1, 5))):
        for row in cells("/v1/figures/freshness", level="school_unit", school_year=story.previous_school_year,
                         today=str(now.assessed_on), **period)["rows"]:
            if row["newest"] and (row["unit_id"] not in newest or row["newest"] > newest[row["unit_id"]]["newest"]):
                newest[row["unit_id"]] = row
    bands = {unit: row["band"] for unit, row in newest.items()}
    assert bands[stale] == "red", newest[stale]
    assert all(band != "red" for unit, band in bands.items() if unit != stale), bands

    # the compliance list: the silent teacher team reported none of its forecasts this window
    school, team = story.silent_team
    haga = muni.unit_named(school)
    silent = {t.id for t in muni.teachers if t.unit_id == haga.id and t.team == team}
    this_window = {"school_year": story.forecast_terms[-1][0], "term": story.forecast_terms[-1][1]}
    teachers = rows(get(f"/v1/compliance/organisers/{code}/school-units/{haga.code}", list="teacher", **this_window))
    by_teacher = {r["teacher_id"]: r for r in teachers}
    listed = {t for t in silent if t in by_teacher and by_teacher[t]["expected"]}
    assert listed, teachers
    assert all(by_teacher[t]["reported"] == 0 and by_teacher[t]["missing"] == by_teacher[t]["expected"]
               for t in listed), teachers
    assert any(r["reported"] for t, r in by_teacher.items() if t not in silent), "the other teams did report"
    missing = rows(get(f"/v1/compliance/organisers/{code}/school-units/{haga.code}/items", status="missing",
                       **this_window))
    assert missing, "the list a principal uses to remind people"

    # late flags: every forecast for a past window arrived after its deadline; the early schools'
    # forecasts for the coming window are on time
    units = rows(get(f"/v1/compliance/organisers/{code}/school-units", **this_window))
    assert units and all(r["on_time"] == 0 for r in units) and sum(r["late"] for r in units) > 0, units
    coming = {"school_year": story.early_window[0], "term": story.early_window[1]}
    early = rows(get(f"/v1/compliance/organisers/{code}/school-units", **coming))
    early_codes = {muni.unit_named(s).code for s in story.early_schools}
    assert {r["school_unit_code"] for r in early if r["on_time"]} == early_codes, early
    assert all(r["late"] == 0 for r in early), early

    # LIKA: far ahead and far behind, and only the published ones
    lika = {u["school_unit_code"]: u for u in rows(cells("/v1/lika/school-units"))}
    assert set(lika) == {p.unit_code for p in muni.lika if p.publish}

    def achieved(name: str) -> int:
        return sum(r["rating"] == "ACHIEVED" for r in lika[muni.unit_named(name).code]["ratings"])

    assert achieved(story.lika_ahead) > 3 * max(1, achieved(story.lika_behind))

    # a second run changes nothing: not in the services, not in the directory, not in the figures
    figures = cells("/v1/results/assessments", level="school_unit")
    second = run_demo(stack, token_issuer, tmp_path / "ss12000")
    assert "nothing changed: it was all there already" in second, second
    wait_for_no_lag(reporting, producers=producers)
    assert cells("/v1/results/assessments", level="school_unit") == figures
    assert get(f"/v1/directory/organisers/{code}/tree") == tree
