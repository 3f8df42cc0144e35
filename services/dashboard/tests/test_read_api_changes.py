"""The dashboard against the read APIs' changes of sessions 30-31: the alert list paged by keyset (`limit`, `after`,
`Link: rel="next"`), alert figures withheld where counts are rounded, support refused the ICT coordinator.
In-process, against a fake reporting that answers as the service does now."""

from __future__ import annotations

import csv
import functools
import io
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from styrkedja_dashboard.clients import ALERT_MAX_PAGES

ORGANISER = "2980"
UNIT = "12345678"
Upstream = Callable[[httpx.Request], httpx.Response]
REASON_TITLE = 'title="Visas inte: uppgiften bygger på för få elever'


@pytest.fixture
def dashboard(signed_in_as: Callable[..., TestClient]) -> Callable[..., TestClient]:
    return functools.partial(signed_in_as, role="organiser_admin", organiser=ORGANISER)


def alert(n: int, **changes: Any) -> dict[str, Any]:
    return {"alert_id": str(uuid.UUID(int=n)), "organiser_id": ORGANISER, "level": "school_unit", "unit_id": UNIT,
            "school_unit_code": UNIT, "subject_code": "GRGRMAT01", "year": None, "school_year": "2026/27",
            "term": None, "round": 2, "rule": "pass_share_drop", "status": "open", "episode": 1,
            "figures": {"students": 40, "compared_students": 38, "share": 0.5, "compared_share": 0.7,
                        "change_points": -20.0},
            "raised_at": "2026-11-10T08:05:00+00:00", "changed_at": "2026-11-10T08:05:00+00:00", "comment": None,
            "acknowledged_by": None, "resolved_reason": None, **changes}


def paged(pages: list[list[dict[str, Any]]], asked: list[httpx.QueryParams] | None = None,
          link: Callable[[int], str | None] | None = None) -> Upstream:
    """A reporting whose alert list is `pages`, the n-th page's next named `after=p<n+1>` by its Link header, as
    reporting's `next_page` writes it (the request's path and query, `after` replaced) — or the URL `link(n)` says;
    `asked` collects the alert reads' queries. The other reads answer empty."""
    def answer(request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        if path == "/v1/alerts":
            if asked is not None:
                asked.append(params)
            after = params.get("after")
            n = int(after[1:]) if after else 0
            headers = {}
            following = f"p{n + 1}" if n + 1 < len(pages) else None
            url = link(n) if link else following and f"http://reporting.test/v1/alerts?{params.set('after', following)}"
            if url:
                headers["Link"] = f'<{url}>; rel="next"'
            return httpx.Response(200, json=pages[n] if n < len(pages) else [], headers=headers)
        if path == "/v1/results/assessments":
            return httpx.Response(200, json=[{"level": params.get("level"), "unit_id": UNIT,
                                              "subject_code": "GRGRMAT01", "school_year": "2026/27", "term": "HT",
                                              "round": 1, "share_reaching_pass": 0.5, "assessed": 40,
                                              "reaching_pass": 20}])
        if path.endswith(("/tree", "/students-at-risk")) or path in ("/v1/results/forecasts",
                                                                     "/v1/lika/school-units"):
            return httpx.Response(200, json=[])
        if path == "/v1/support/summary":
            return httpx.Response(200, json={"level": "school_unit", "unit_id": UNIT, "students_with_support": 3})
        return httpx.Response(200, json={"columns": [], "rows": []})
    return answer


def test_the_alert_page_links_to_the_next_page_reporting_names(dashboard):
    """Failed on the old code: the page showed reporting's first page (its default 500) as "N larm" and no way on —
    the rest of the organiser's alerts were on no page. Now a page of 100 asked, and a link to the next, carrying the
    cursor reporting named; the next page asks reporting for it."""
    asked: list[httpx.QueryParams] = []
    client = dashboard(paged([[alert(1), alert(2)], [alert(3)]], asked))
    first = client.get("/larm?status=alla")
    assert first.status_code == 200, first.text[:400]
    assert asked[-1].get("limit") == "100" and "after" not in asked[-1]
    assert "2 larm hos" in first.text and "på den här sidan</caption>" in first.text
    assert f'<a href="/larm?huvudman={ORGANISER}&amp;status=alla&amp;efter=p1">Visa fler larm</a>' in first.text
    second = client.get("/larm?status=alla&efter=p1")
    assert second.status_code == 200, second.text[:400]
    assert asked[-1].get("after") == "p1"
    assert "1 larm hos" in second.text and "Visa fler larm" not in second.text and "Inga fler larm." in second.text
    assert f'<a href="/larm?huvudman={ORGANISER}&amp;status=alla">Till de senast ändrade larmen</a>' in second.text
    # the acknowledgement comes back to the page it was made on
    assert f'name="tillbaka" value="/larm?huvudman={ORGANISER}&amp;status=alla&amp;efter=p1"' in second.text


def test_a_single_page_of_alerts_reads_as_before(dashboard):
    page = dashboard(paged([[alert(1)]])).get("/larm")
    assert "1 larm hos" in page.text and "på den här sidan" not in page.text and "Visa fler larm" not in page.text
    assert "Ladda ner tabellen:" in page.text


@pytest.mark.parametrize("efter", ["p 1", "a" * 121, "p1&status=open", "p1/.."])
def test_a_cursor_not_of_reportings_alphabet_is_a_422_naming_the_field(dashboard, efter):
    asked: list[httpx.QueryParams] = []
    page = dashboard(paged([[alert(1)]], asked)).get("/larm", params={"efter": efter})
    assert page.status_code == 422 and "efter" in page.text
    assert asked == []  # never sent on


def test_a_cursor_reporting_did_not_write_is_a_422_naming_efter_in_swedish(dashboard):
    """Reporting refuses an `after` it did not write (422 `page_cursor`, naming its own `after` in English). Failed on
    the old code: `efter` was not read at all (the first page, as if the link were followed)."""
    fake = paged([[alert(1)]])

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("after") == "edited":
            return httpx.Response(422, json={"title": "Unprocessable", "status": 422, "detail": "not a cursor",
                                             "errors": [{"field": "after", "rule": "page_cursor",
                                                         "message": "not a cursor of this list"}]})
        return fake(request)
    page = dashboard(answer).get("/larm?efter=edited")
    assert page.status_code == 422, page.text[:400]
    assert "efter (är ingen sida av listan: följ länken till nästa sida, eller börja om från första)" in page.text
    assert "not a cursor" not in page.text


def test_an_empty_cursor_is_the_first_page_as_every_empty_field_of_a_form_is(dashboard):
    asked: list[httpx.QueryParams] = []
    assert dashboard(paged([[alert(1)]], asked)).get("/larm?efter=").status_code == 200
    assert "after" not in asked[0]


def test_the_alert_download_holds_every_page(dashboard):
    """Failed on the old code: the CSV held reporting's first page only (its default 500 alerts) and said nothing of
    the rest."""
    asked: list[httpx.QueryParams] = []
    answer = dashboard(paged([[alert(1), alert(2)], [alert(3)], [alert(4)]], asked)).get("/larm/export.csv")
    assert answer.status_code == 200, answer.text[:400]
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 1 + 4
    assert [q.get("after") for q in asked] == [None, "p1", "p2"] and {q.get("limit") for q in asked} == {"5000"}


def test_the_unit_page_and_the_report_count_every_alert_of_the_unit(dashboard):
    """Failed on the old code: both counted the first page ("2 larm", "öppna av 2")."""
    pages = [[alert(1), alert(2)], [alert(3, status="acknowledged")]]
    report = dashboard(paged(pages)).get(f"/rapport?enhet={UNIT}")
    assert report.status_code == 200, report.text[:400]
    assert "<caption>3 larm</caption>" in report.text
    unit = dashboard(paged(pages)).get(f"/kedjan?enhet={UNIT}")
    assert unit.status_code == 200, unit.text[:400]
    assert "2 öppna av 3." in unit.text


@pytest.mark.parametrize(("url", "reads"), [("http://reporting.test/v1/alerts?after=p0", 2),
                                            ("http://reporting.test/v1/alerts?limit=5", 1)],
                         ids=["the same page again", "no after"])
def test_a_next_page_that_never_moves_on_is_a_502_naming_reporting(dashboard, url, reads):
    """A reporting (another version, or a hostile one) naming the page just read as the next, or a next without
    `after`: a client following it would read for ever. A 502 naming the service, at once."""
    asked: list[httpx.QueryParams] = []
    for path in ("/larm/export.csv", "/larm?efter=p0"):
        asked.clear()
        answer = dashboard(paged([[alert(1)]], asked, link=lambda n: url)).get(path)
        assert answer.status_code == 502 and "reporting" in answer.text, path
    assert len(asked) == 1  # the page: one read, its next named wrong


def test_alerts_past_the_bound_of_pages_are_a_502_never_a_download_cut_short(dashboard):
    asked: list[httpx.QueryParams] = []
    answer = dashboard(paged([[alert(1)]] * (ALERT_MAX_PAGES + 1), asked)).get("/larm/export.csv")
    assert answer.status_code == 502 and f"efter {ALERT_MAX_PAGES} sidor" in answer.text
    assert len(asked) == ALERT_MAX_PAGES


def test_an_alerts_figures_withheld_from_the_reader_show_as_dots_with_the_reason(dashboard):
    """Where counts are rounded reporting withholds (null) a share no count as shown gives, and the change resting on
    it (`alerts.disclose.figures_shown`). Failed on the old code: an open alert's withheld share read `–` (no figure),
    its change was left out, and the download's cells were empty. A resolved alert's figures are its resolution's:
    none there is no figure (a dash)."""
    withheld = alert(1, figures={"students": 0, "compared_students": 40, "share": None, "compared_share": 0.7,
                                 "change_points": None})
    below = alert(2, rule="below_forecast", round=None, term="HT",
                  figures={"students": 40, "share": None, "compared_share": None, "change_points": None})
    resolved = alert(3, status="resolved", figures={"students": 0, "share": None, "compared_share": None,
                                                    "change_points": None})
    client = dashboard(paged([[withheld, below, resolved]]))
    html = client.get("/larm?status=alla").text
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 3
    first, second, third = rows
    assert first.count('<abbr class="withheld"') == 2 and "70,0\u00a0%" in first  # the share and the change
    assert f'(<abbr class="withheld" title="Förändring: {REASON_TITLE[7:]}' in first
    assert second.count('<abbr class="withheld"') == 1  # below_forecast: its change alone; no shares to withhold
    assert '<abbr class="withheld"' not in third and third.count(">–</td>") == 2
    download = client.get("/larm/export.csv?status=alla").content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(download), delimiter=";"))
    assert lines[1][10:13] == ["..", "0.7", ".."] or lines[1][10:13] == ["..", "0,7", ".."]
    assert lines[3][10:13] == ["", "", ""]


def test_an_ict_coordinators_report_says_support_is_not_for_its_role(dashboard):
    """Reporting refuses an ICT coordinator every support read (403 `roles`, privacy round 30). Failed on the old
    code: the report asked, and said "du har inte behörighet att se den här nivån" of the school unit whose results
    the same report showed. Now it does not ask, and says the section is not for the role."""
    asked: list[str] = []
    fake = paged([[alert(1)]])

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/v1/support/summary":
            return httpx.Response(403, json={"detail": "this token's roles do not read support figures"})
        return fake(request)
    page = dashboard(answer, role="ict_coordinator", school_units=[UNIT]).get(f"/rapport?enhet={UNIT}")
    assert page.status_code == 200, page.text[:400]
    assert "<strong>Stödinsatser:</strong> visas inte för din roll." in page.text
    assert "<strong>Stödinsatser:</strong> du har inte behörighet" not in page.text
    assert "/v1/support/summary" not in asked


def test_a_role_that_reads_support_is_shown_it_as_before(dashboard):
    page = dashboard(paged([[]]), role="principal", school_units=[UNIT]).get(f"/rapport?enhet={UNIT}")
    assert page.status_code == 200 and "<dt>students with support</dt><dd>3</dd>" in page.text
    # a token of several roles reads support through the one that does (the kit's `reading`)
    both = dashboard(paged([[]]), roles=["ict_coordinator", "principal"], school_units=[UNIT])
    assert "visas inte för din roll" not in both.get(f"/rapport?enhet={UNIT}").text


def _refused(rule: str) -> httpx.Response:
    """Reporting's 403 as the kit's problem body writes it (`require_role`: field `roles`, rule `role`)."""
    return httpx.Response(403, json={"type": "about:blank", "title": "Forbidden", "status": 403,
                                     "detail": "this token needs one of the roles: organiser_admin, principal",
                                     "errors": [{"field": "roles" if rule == "role" else "level", "rule": rule,
                                                 "message": "refused"}]})


@pytest.mark.parametrize(("rule", "said"), [("role", "visas inte för din roll."),
                                            ("read_scope", "du har inte behörighet att se den här nivån.")])
def test_a_section_refused_to_the_readers_role_says_so_and_one_refused_its_level_says_that(dashboard, rule, said):
    """A politician reads the organiser's figures but no alerts (reporting's alert list is for the roles that act on
    them: 403 `role`). Failed on the old code: its report said "Larm: du har inte behörighet att se den här nivån"
    of the organiser level the rest of the report showed. A refusal of the level or place (`read_scope`) still says
    that; a unit page's sections read the same way."""
    fake = paged([[]])

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path in ("/v1/alerts", "/v1/figures/merit"):
            return _refused(rule)
        return fake(request)
    report = dashboard(answer, role="politician").get("/rapport")
    assert report.status_code == 200, report.text[:400]
    assert f"<strong>Larm:</strong> {said}</p>" in report.text
    unit = dashboard(answer, role="principal", school_units=[UNIT]).get(f"/kedjan?enhet={UNIT}")
    assert unit.status_code == 200, unit.text[:400]
    assert f"<strong>Larm:</strong> {said}</p>" in unit.text
    assert f"<strong>Meritvärde och behörighet HT 2026/27:</strong> {said}</p>" in unit.text


def test_derived_figures_withheld_by_reporting_show_as_dots_with_the_reason(dashboard):
    """Already so before this change (passes on the old code): a change, gap, forecast-against-outcome or merit figure
    reporting withholds comes as `{"value": null, "reason": …}` in its table, and every figure table shows it `..`
    with the reason (`figures.value_of`, the `val` macro)."""
    reason = "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"
    tables = {
        "/v1/figures/forecast-outcome": {"columns": [{"key": "subject_code", "header": "Ämne", "type": "text"},
                                                     {"key": "share_held", "header": "Andel som höll",
                                                      "type": "share"}],
                                         "rows": [{"subject_code": "GRGRMAT01",
                                                   "share_held": {"value": None, "reason": reason}}]},
        "/v1/figures/merit": {"columns": [{"key": "year", "header": "Årskurs", "type": "integer"},
                                          {"key": "mean_merit", "header": "Meritvärde", "type": "number"}],
                              "rows": [{"year": 9, "mean_merit": {"value": None, "reason": reason}}]}}
    fake = paged([[]])

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path in tables:
            return httpx.Response(200, json=tables[request.url.path])
        return fake(request)
    page = dashboard(answer, role="teacher").get(f"/kedjan?enhet={UNIT}")
    assert page.status_code == 200, page.text[:400]
    assert page.text.count(f'<abbr class="withheld" {REASON_TITLE}') >= 2


def _compliance_of(unit: str) -> dict[str, Any]:
    return {"columns": [{"key": "school_unit_code", "header": "Skolenhetskod", "type": "text"},
                        {"key": "expected", "header": "Förväntade", "type": "integer"},
                        {"key": "share_reported", "header": "Andel rapporterade", "type": "share"}],
            "rows": [{"school_unit_code": unit, "expected": 10, "share_reported": 0.4}]}


def test_a_principals_report_of_its_unit_reads_the_units_reporting_rate(dashboard):
    """Reporting's organiser view of compliance is the organiser admin's and area managers' (403 `role` to a
    principal); the unit's read, the principal's, gives the unit's own row (`list=school_unit`). Failed on the old
    code: the report asked the organiser view and said "Rapporteringsgrad: visas inte för din roll" of the principal's
    own unit."""
    fake = paged([[]])
    asked: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == f"/v1/compliance/organisers/{ORGANISER}/school-units":
            asked.append(request.url)
            return _refused("role")
        if path == f"/v1/compliance/organisers/{ORGANISER}/school-units/{UNIT}":
            asked.append(request.url)
            if request.url.params.get("list") != "school_unit":
                return httpx.Response(200, json={"columns": [], "rows": []})
            return httpx.Response(200, json=_compliance_of(UNIT))
        return fake(request)
    page = dashboard(answer, role="principal", school_units=[UNIT]).get(f"/rapport?enhet={UNIT}")
    assert page.status_code == 200, page.text[:400]
    assert "<strong>Rapporteringsgrad" not in page.text
    table = page.text.split("Rapporteringsgrad, prognoser</caption>")[1].split("</table>")[0]
    assert "40,0\xa0%" in table
    assert [url.path for url in asked] == [f"/v1/compliance/organisers/{ORGANISER}/school-units/{UNIT}"]
    # the organiser's report reads the organiser view as before (a principal is told it is not for its role)
    organiser = dashboard(answer, role="principal", school_units=[UNIT]).get("/rapport")
    assert "<strong>Rapporteringsgrad, prognoser:</strong> visas inte för din roll." in organiser.text


@pytest.mark.parametrize(("rule", "said"), [("role", "visas inte för din roll."),
                                            ("read_scope", "du har inte behörighet att se den här nivån.")])
def test_the_compliance_pages_sections_refused_to_the_readers_role_say_so(dashboard, rule, said):
    """/rapportering reads as the other pages do (`reads.Unavailable.refused`): reporting's organiser view is not the
    principal's (403 `role`), nor a unit's lists an ICT coordinator's. Failed on the old code (plain `or_none`): every
    refusal said "du har inte behörighet att se den här nivån", of a level the reader's role reads nothing of. A
    refusal of the level or place (`read_scope`) still says that."""
    fake = paged([[]])

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(f"/v1/compliance/organisers/{ORGANISER}/school-units"):
            return _refused(rule)
        return fake(request)
    page = dashboard(answer, role="principal", school_units=[UNIT]).get(f"/rapportering?enhet={UNIT}")
    assert page.status_code == 200, page.text[:400]
    assert f"<strong>Rapporteringsgrad per skolenhet:</strong> {said}</p>" in page.text
    assert f"<strong>Skolenhet {UNIT} per lärare:</strong> {said}</p>" in page.text
    assert f"<strong>Saknade prognoser (pseudonyma elev-id:n):</strong> {said}</p>" in page.text
