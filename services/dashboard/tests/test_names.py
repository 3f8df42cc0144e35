"""The dashboard says names: the organiser, areas, school units and groups by the directory's name wherever a page
shows one (the school unit code and the organiser id beside it), and the stated fallback (`Huvudman 2120000142`,
the id in a table) where the directory knows none or may not be read. In-process against a fake reporting
(`httpx.MockTransport`) with a signed-in session planted in the store."""

from __future__ import annotations

import csv
import functools
import io
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from styrkedja_dashboard.names import UnitNames

ORGANISER = "212000-0142"
NORTH, SOUTH = "12345678", "87654321"
GROUP = "4f1c2d7e-grp"  # the source's key of a group: no person reads it
TREE = [{"unit_type": "organiser", "unit_id": ORGANISER, "organiser_id": ORGANISER, "parent_id": None,
         "name": "Mittköpings kommun", "children": [
             {"unit_type": "area", "unit_id": "omr-n", "organiser_id": ORGANISER, "parent_id": ORGANISER,
              "name": "Område Norr", "children": [
                  {"unit_type": "school_unit", "unit_id": "su-n", "organiser_id": ORGANISER, "parent_id": "omr-n",
                   "name": "Norrskolan\n", "school_unit_code": NORTH, "children": [
                       {"unit_type": "group", "unit_id": GROUP, "organiser_id": ORGANISER, "parent_id": "su-n",
                        "name": "9A", "school_unit_code": NORTH, "children": []}]},
                  # a unit the directory has no name for: shown by its code
                  {"unit_type": "school_unit", "unit_id": "su-s", "organiser_id": ORGANISER, "parent_id": "omr-n",
                   "name": None, "school_unit_code": SOUTH, "children": []}]}]}]


def _cell(level: str, unit: str, share: float | None = 0.75) -> dict[str, Any]:
    return {"level": level, "unit_id": unit, "subject_code": "GRGRMAT01", "school_year": "2026/27", "term": "HT",
            "round": 1, "share_reaching_pass": share, "assessed": 20, "reaching_pass": 15}


def _alert(level: str, unit: str, code: str | None) -> dict[str, Any]:
    return {"alert_id": str(uuid.uuid4()), "level": level, "unit_id": unit, "school_unit_code": code,
            "subject_code": "GRGRMAT01", "year": 9, "school_year": "2026/27", "term": "HT", "round": None,
            "rule": "pass_share_drop", "status": "open", "comment": None, "figures": {"share": 0.4},
            "raised_at": "2026-11-10T08:05:00+00:00"}


def reporting(*, tree: Callable[[], httpx.Response] | None = None) -> Callable[[httpx.Request], httpx.Response]:
    """A reporting that knows the tree above (or answers the tree with `tree`), one cell per unit."""
    def answer(request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        if path.endswith("/tree"):
            return tree() if tree else httpx.Response(200, json=TREE)
        if path == "/v1/results/assessments":
            level = params["level"]
            units = {"organiser": [ORGANISER], "area": ["omr-n"], "school_unit": [NORTH, SOUTH],
                     "group": [f"{NORTH}/{GROUP}", f"{SOUTH}/7B"]}[level]
            return httpx.Response(200, json=[_cell(level, u) for u in units])
        if path == "/v1/self-assessments":  # the LIKA service's (the same fake answers both hosts)
            return httpx.Response(200, json=[])
        if path == "/v1/results/forecasts":
            return httpx.Response(200, json=[])
        if path == "/v1/alerts":
            return httpx.Response(200, json=[_alert("school_unit", NORTH, NORTH),
                                             _alert("group", f"{NORTH}:{GROUP}", NORTH)])
        if path == "/v1/lika/school-units":
            return httpx.Response(200, json=[{"school_unit_code": NORTH, "catalogue_version": "2026.1"}])
        if path.startswith("/v1/figures/"):
            return httpx.Response(200, json={"columns": [], "rows": []})
        return httpx.Response(404, json={"detail": "not here"})
    return answer


@pytest.fixture
def dashboard(signed_in_as: Callable[..., TestClient]) -> Callable[..., TestClient]:
    return functools.partial(signed_in_as, role="organiser_admin", organiser=ORGANISER)


def test_the_chain_names_the_organiser_and_its_school_units_with_their_codes(dashboard):
    """Failed on the old code: the breadcrumb, the captions and the organiser's row said `Huvudman 212000-0142`
    where the directory knows `Mittköpings kommun`."""
    page = dashboard(reporting()).get("/kedjan")
    assert page.status_code == 200, page.text[:300]
    html = page.text
    assert "Huvudman 212000-0142" not in html and "huvudman 212000-0142" not in html
    assert ">Mittköpings kommun</a></li>" in html  # the breadcrumb
    assert "Skolenheter hos Mittköpings kommun</caption>" in html
    assert f'Mittköpings kommun <span class="id">{ORGANISER}</span>' in html  # the organiser's own row
    assert f'Norrskolan <span class="id">{NORTH}</span></a>' in html  # name (one line) and the code users type
    assert f'>{SOUTH}</a>' in html  # no name known: the code alone, in the column that says "Skolenhet"


@pytest.mark.parametrize(("path", "named"), [
    (f"/kedjan?enhet={NORTH}", ("<title>Norrskolan – Styrkedja</title>", f"Norrskolan (skolenhetskod {NORTH})",
                                 "Norrskolan per årskurs</caption>")),
    ("/nedbrytning?niva=area&enhet=omr-n", ("<h1>Område Norr: listan bakom siffran</h1>",)),
    (f"/nedbrytning?niva=group&enhet={NORTH}/{GROUP}", ("Elever i 9A, Norrskolan</caption>",)),
    (f"/rapportering?enhet={NORTH}", ("Prognosfönstret", "Mittköpings kommun.", ">Norrskolan, per lärare</h2>")),
    ("/rapport", ("<h1>Kvalitetsrapport: Mittköpings kommun</h1>", f"Huvudman {ORGANISER} ·",
                  f'Norrskolan <span class="id">{NORTH}</span>')),
    (f"/rapport?enhet={NORTH}", ("<h1>Kvalitetsrapport: Norrskolan</h1>", f"Skolenhetskod {NORTH} ·")),
    (f"/lika?enhet={NORTH}", ("sammanställning (Mittköpings kommun)", f'Norrskolan <span class="id">{NORTH}</span>',
                              "Norrskolan: självskattningar")),
])
def test_every_page_names_what_it_is_about(dashboard, path, named):
    """Failed on the old code: each of these said `Skolenhet 12345678`, `huvudman 212000-0142` or `grupp
    12345678/4f1c2d7e-grp` (lika: its own service answers the unit's self-assessments, here none)."""
    page = dashboard(reporting()).get(path)
    assert page.status_code == 200, (path, page.text[:500])
    for text in named:
        assert text in page.text, (path, text)
    assert f"Skolenhet {NORTH}" not in page.text and f"uvudman {ORGANISER}<" not in page.text


def test_groups_are_named_with_their_school_unit_never_by_the_sources_key(dashboard):
    """Failed on the old code: a group row read `12345678/4f1c2d7e-grp`."""
    html = dashboard(reporting()).get("/kedjan?niva=group").text
    assert ">9A, Norrskolan</a>" in html and f"{NORTH}/{GROUP}</a>" not in html
    assert f">{SOUTH}/7B</a>" in html  # a group the directory does not know: its id as sent


def test_alerts_name_units_and_groups_and_the_download_has_a_name_column(dashboard):
    client = dashboard(reporting())
    html = client.get("/larm").text
    assert "larm hos Mittköpings kommun" in html
    assert f'Norrskolan <span class="id">{NORTH}</span>' in html and "9A, Norrskolan" in html  # `:` of the alerts
    rows = list(csv.reader(io.StringIO(client.get("/larm/export.csv").text.lstrip("\ufeff")), delimiter=";"))
    header = rows[0]
    assert header[:3] == ["Nivå", "Enhet", "Namn"], header
    assert [r[2] for r in rows[1:]] == ["Norrskolan", "9A, Norrskolan"], rows


def test_the_chain_download_has_the_id_and_the_name(dashboard):
    rows = list(csv.reader(io.StringIO(dashboard(reporting()).get("/kedjan/export.csv").text.lstrip("\ufeff")),
                           delimiter=";"))
    assert rows[0][:2] == ["Skolenhet", "Namn"], rows
    assert {r[0]: r[1] for r in rows[1:]} == {NORTH: "Norrskolan", SOUTH: ""}


@pytest.mark.parametrize("tree", [
    lambda: httpx.Response(403, json={"detail": "this token may not read the directory"}),  # the public
    lambda: httpx.Response(503, headers={"Retry-After": "3"}, json={"detail": "busy"}),
    lambda: httpx.Response(200, json={"not": "a list"}),
])
def test_without_the_directory_every_unit_has_the_stated_fallback_and_the_page_is_shown(dashboard, tree):
    page = dashboard(reporting(tree=tree)).get("/kedjan")
    assert page.status_code == 200, page.text[:300]
    assert f">Huvudman {ORGANISER}</a></li>" in page.text  # the breadcrumb: the level's word and the id
    assert f"Skolenheter hos Huvudman {ORGANISER}</caption>" in page.text
    assert f">{NORTH}</a>" in page.text and "Norrskolan" not in page.text
    assert "saknar visas med sitt id" in page.text  # the fallback is said on the page


def test_a_name_is_text_never_markup():
    hostile = UnitNames({("school_unit", NORTH): '<script>alert(1)</script>'})
    from styrkedja_dashboard.web.pages import templates
    macros = templates.env.get_template("_macros.html").module
    html = str(macros.unit_name(hostile, "school_unit", NORTH))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_fallback_and_the_ids_shown():
    names = UnitNames({("organiser", ORGANISER): "Mittköpings kommun", ("school_unit", NORTH): "Norrskolan",
                       ("group", f"{NORTH}/{GROUP}"): "9A", ("area", "omr-n"): "Område Norr"})
    assert names.label("organiser", ORGANISER) == "Mittköpings kommun"
    assert names.label("organiser", "2980") == "Huvudman 2980" and names.label("school_unit", SOUTH) == f"Skolenhet {SOUTH}"
    assert names.label("group", f"{SOUTH}/x") == f"Grupp {SOUTH}/x"
    assert names("school_unit", SOUTH) == SOUTH and names("school_unit", None) == ""
    assert names.name("group", f"{NORTH}:{GROUP}") == "9A, Norrskolan"
    assert names.shown_id("school_unit", NORTH) == NORTH and names.shown_id("organiser", ORGANISER) == ORGANISER
    assert names.shown_id("area", "omr-n") is None  # the source's key: not for people
    assert names.shown_id("school_unit", SOUTH) is None  # no name: the id is already what is shown
    for odd in (None, 5, ["x"], {"a": 1}):
        assert isinstance(names.label(odd, odd), str) and names.name(odd, NORTH) is None  # never raises


def test_the_compliance_list_per_group_names_the_groups():
    """Failed on the old code: the per-group list showed the source's group key (`4f1c2d7e-grp`)."""
    from styrkedja_dashboard.compliance.routes import named_groups
    from styrkedja_dashboard.figures import figure_table

    table = figure_table({"columns": [{"key": "group_id", "header": "Grupp"}, {"key": "missing", "header": "Saknas"}],
                          "rows": [{"group_id": GROUP, "missing": 2}, {"group_id": "okand", "missing": 1},
                                   {"group_id": None, "missing": 0}, {"missing": 3}]})
    names = UnitNames({("group", f"{NORTH}/{GROUP}"): "9A"})
    shown = named_groups(table, names, NORTH)
    assert shown is not None
    assert [r["group_id"].value for r in shown.rows] == ["9A", "okand", None, None]
    assert [r["missing"].value for r in shown.rows] == [2, 1, 0, 3]
    assert named_groups(None, names, NORTH) is None


# -- the directory's names kept per session (`names.NamesCache`) ---------------------------------------------------


def counting(upstream: Callable[[httpx.Request], httpx.Response], asked: list[str]
             ) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tree"):
            asked.append(request.headers["authorization"])
        return upstream(request)
    return answer


def test_a_sessions_pages_ask_the_directory_once_and_again_after_a_minute(dashboard, monkeypatch):
    """Failed on the old code: every page read the organiser's whole tree again, beside its own reads."""
    from styrkedja_dashboard import names

    asked: list[str] = []
    client = dashboard(counting(reporting(), asked))
    for path in ("/kedjan", "/larm", f"/kedjan?enhet={NORTH}", "/lika", "/kedjan"):
        page = client.get(path)
        assert page.status_code == 200 and "Mittköpings kommun" in page.text, path
    assert len(asked) == 1
    later = time.monotonic() + names.NAMES_SECONDS + 1
    monkeypatch.setattr(names.time, "monotonic", lambda: later)
    assert "Norrskolan" in client.get(f"/kedjan?enhet={NORTH}").text
    assert len(asked) == 2  # a renamed unit shows by its new name a minute later at most


def test_a_sessions_names_never_serve_another_session(dashboard):
    """Two people (or one, signed in again): the directory answers each by its token's scope, and neither page shows
    names the other's answer held."""
    asked: list[str] = []
    first = dashboard(counting(reporting(), asked))
    assert "Norrskolan" in first.get(f"/kedjan?enhet={NORTH}").text
    # the next session's reporting may not read the directory (its scope): the fallback, not the names kept above
    second = dashboard(counting(reporting(tree=lambda: httpx.Response(403, json={"detail": "scope"})), asked))
    page = second.get(f"/kedjan?enhet={NORTH}")
    assert page.status_code == 200 and "Norrskolan" not in page.text and f"Skolenhet {NORTH}" in page.text
    assert len(asked) == 2


def test_a_directory_that_could_not_be_read_is_asked_again_on_the_next_page(dashboard):
    answers = iter([httpx.Response(503, json={"detail": "busy"}), httpx.Response(200, json=TREE)])
    asked: list[str] = []
    client = dashboard(counting(reporting(tree=lambda: next(answers)), asked))
    assert f"Skolenhet {NORTH}" in client.get(f"/kedjan?enhet={NORTH}").text
    assert "Norrskolan" in client.get(f"/kedjan?enhet={NORTH}").text
    assert len(asked) == 2


def test_the_kept_names_are_bounded_least_recently_used_first():
    from styrkedja_dashboard.names import NamesCache

    cache = NamesCache(seconds=60, kept=3)
    for n in range(3):
        cache.put(f"s{n}", ORGANISER, UnitNames({("organiser", ORGANISER): f"name {n}"}))
    assert cache.get("s0", ORGANISER) is not None  # s0 used again: s1 is the least recently used now
    cache.put("s3", ORGANISER, UnitNames())
    assert cache.get("s1", ORGANISER) is None and cache.get("s0", ORGANISER) is not None
    assert cache.get("s0", "other-organiser") is None

# --- `/nedbrytning` without `niva` (round 39): the level the directory places the unit at, else a 422 naming `niva`;
# `niva=organiser` with another unit a 422 naming `enhet`. Before, the level defaulted to the organiser: the school
# unit was headed "Huvudman 12345678" and reporting was asked for the areas of an "organiser 12345678"


def _asked(seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    answer = reporting()

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)
    return recording


def _drill_downs(seen: list[httpx.Request]) -> list[tuple[str | None, str | None]]:
    return [(r.url.params.get("level"), r.url.params.get("unit_id")) for r in seen
            if r.url.path == "/v1/figures/drill-down"]


@pytest.mark.parametrize(("unit", "level", "heading"), [
    (NORTH, "school_unit", "Norrskolan"), ("omr-n", "area", "Område Norr"), (f"{NORTH}/{GROUP}", "group", "9A"),
    (ORGANISER, "organiser", "Mittköpings kommun"), ("2120000142", "organiser", "Mittköpings kommun")])
def test_the_level_of_a_unit_the_directory_places_is_its_own(dashboard, unit: str, level: str, heading: str) -> None:
    """Failed on the old code for the school unit, the area and the group: asked and headed as an organiser."""
    seen: list[httpx.Request] = []
    page = dashboard(_asked(seen)).get(f"/nedbrytning?enhet={unit}")
    assert page.status_code == 200, page.text[:500]
    assert _drill_downs(seen) == [(level, ORGANISER if level == "organiser" else unit)], _drill_downs(seen)
    assert f"<h1>{heading}" in page.text
    assert f"Huvudman {unit}" not in page.text


@pytest.mark.parametrize("unit", ["99999999", "okand-enhet"])
def test_a_unit_the_directory_does_not_place_is_a_422_naming_niva(dashboard, unit: str) -> None:
    """Failed on the old code: a 200 headed "Huvudman 99999999" (reporting asked for an organiser's areas)."""
    seen: list[httpx.Request] = []
    page = dashboard(_asked(seen)).get(f"/nedbrytning?enhet={unit}")
    assert page.status_code == 422, page.text[:500]
    assert "niva (saknas: ange nivån för enheten (area, school_unit eller group))" in page.text
    assert not _drill_downs(seen)


def test_a_directory_that_cannot_be_read_places_no_unit(dashboard) -> None:
    """The names are decoration (`unit_names`): a directory away leaves the level unknown, a 422 naming `niva`."""
    page = dashboard(reporting(tree=lambda: httpx.Response(503))).get(f"/nedbrytning?enhet={NORTH}")
    assert page.status_code == 422 and "niva (" in page.text


def test_the_organiser_s_level_with_another_unit_is_a_422_naming_enhet(dashboard) -> None:
    """Failed on the old code: a 200 headed as the organiser `12345678`."""
    seen: list[httpx.Request] = []
    page = dashboard(_asked(seen)).get(f"/nedbrytning?niva=organiser&enhet={NORTH}")
    assert page.status_code == 422, page.text[:500]
    assert "enhet (ska vara huvudmannen (eller utelämnas) när niva är organiser)" in page.text
    assert not _drill_downs(seen)


def test_a_level_given_is_taken_as_given(dashboard) -> None:
    seen: list[httpx.Request] = []
    client = dashboard(_asked(seen))
    assert client.get(f"/nedbrytning?niva=school_unit&enhet={NORTH}").status_code == 200
    assert client.get("/nedbrytning").status_code == 200
    assert _drill_downs(seen) == [("school_unit", NORTH), ("organiser", ORGANISER)]
    assert TREE  # (the directory the fake reporting answers)


@pytest.mark.parametrize("level", ["area", "school_unit", "group"])
def test_a_level_below_the_organiser_without_a_unit_is_a_422_naming_enhet(dashboard, level: str) -> None:
    """Failed on the old code: a 200, reporting asked for the children of the organiser's id as an area's (a school
    unit's, a group's), the page headed so."""
    seen: list[httpx.Request] = []
    page = dashboard(_asked(seen)).get(f"/nedbrytning?niva={level}")
    assert page.status_code == 422, page.text[:500]
    assert "enhet (saknas: ange enheten när niva är area, school_unit eller group)" in page.text
    assert not _drill_downs(seen)
