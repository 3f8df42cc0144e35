"""Accessibility basics of every page, without a browser (the browser tests run axe-core on the main pages): the
language, one h1, headings in order, a caption and scoped headers on every table, a label on every field, and the
suppression mark `..` readable (WCAG AA contrast) on every background a cell can have. In-process against a fake
reporting with the directory's names."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from styrkedja_dashboard.app import create_app
from styrkedja_dashboard.settings import DashboardSettings
from styrkedja_dashboard.web.sessions import COOKIE
from styrkedja_kit.auth import principal_from_claims

ORGANISER, NORTH = "2980", "12345678"
CSS = Path(__file__).resolve().parents[1] / "src" / "styrkedja_dashboard" / "static" / "app.css"
TREE = [{"unit_type": "organiser", "unit_id": ORGANISER, "name": "Mittköpings kommun", "children": [
    {"unit_type": "school_unit", "unit_id": "su-n", "name": "Norrskolan", "school_unit_code": NORTH}]}]
WITHHELD = {"value": None, "reason": "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"}


def _upstream(request: httpx.Request) -> httpx.Response:
    path, level = request.url.path, request.url.params.get("level", "organiser")
    if path.endswith("/tree"):
        return httpx.Response(200, json=TREE)
    if path in ("/v1/results/assessments", "/v1/results/forecasts"):
        unit = {"organiser": ORGANISER, "school_unit": NORTH}.get(level, "omr-1")
        return httpx.Response(200, json=[
            {"level": level, "unit_id": unit, "year": 9, "subject_code": s, "school_year": "2026/27", "term": "HT",
             "round": 1, "share_reaching_pass": share, "assessed": 20, "reaching_pass": 15}
            for s, share in (("GRGRMAT01", 0.75), ("GRGRSVE01", WITHHELD))])
    if path.startswith(("/v1/compliance/", "/v1/figures/")):
        return httpx.Response(200, json={"columns": [{"key": "school_unit_code", "header": "Skolenhet"}],
                                         "rows": [{"school_unit_code": NORTH}]})
    if path in ("/v1/alerts", "/v1/lika/school-units", "/v1/self-assessments") or path.endswith("/students-at-risk"):
        return httpx.Response(200, json=[])
    return httpx.Response(404, json={"detail": "not here"})


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = DashboardSettings(reporting_url="http://reporting.test", lika_url="http://lika.test",
                                 issuer="http://issuer.test")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8100", raise_server_exceptions=False) as client:
        client.app.state.http = httpx.AsyncClient(transport=httpx.MockTransport(_upstream))  # type: ignore[attr-defined]
        session = client.app.state.sessions._new()  # type: ignore[attr-defined]
        session.token, session.token_expires_at = "opaque-token", time.time() + 600
        session.principal = principal_from_claims({"sub": "u-1", "roles": ["organiser_admin"],
                                                    "organisers": [ORGANISER]})
        client.cookies.set(COOKIE, session.id)
        yield client


class Structure(HTMLParser):
    """What the checks below need of a page: the html's lang, the headings, the tables, the fields and labels."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.headings: list[int] = []
        self.tables: list[dict[str, bool]] = []
        self.headers_without_scope: list[str] = []
        self.fields: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self._labels = 0  # open <label> elements

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "table":
            self.tables.append({"caption": False})
        elif tag == "caption" and self.tables:
            self.tables[-1]["caption"] = True
        elif tag == "th" and "scope" not in a:
            self.headers_without_scope.append(str(a))
        elif tag == "label":
            self._labels += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.fields.append({"id": a.get("id"), "name": a.get("name"), "aria-label": a.get("aria-label"),
                                "wrapped": "yes" if self._labels else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._labels -= 1


PAGES = ["/kedjan", "/kedjan?niva=area", f"/kedjan?enhet={NORTH}", f"/nedbrytning?niva=school_unit&enhet={NORTH}",
         "/larm", f"/rapportering?enhet={NORTH}", "/rapport", f"/lika?enhet={NORTH}"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_its_language_one_h1_ordered_headings_captions_scoped_headers_and_labels(client, path):
    page = client.get(path)
    assert page.status_code == 200, (path, page.text[:300])
    found = Structure()
    found.feed(page.text)
    assert found.lang == "sv"
    assert found.headings.count(1) == 1 and found.headings[0] == 1, found.headings
    assert all(b - a <= 1 for a, b in zip(found.headings, found.headings[1:], strict=False)), found.headings
    assert found.tables and all(t["caption"] for t in found.tables), (path, found.tables)
    # the pages with filters have fields (the label check below has something to judge)
    assert bool(found.fields) == (not path.startswith(("/nedbrytning", "/rapport?", "/rapport"))
                                  or path.startswith("/rapportering")), (path, found.fields)
    assert found.headers_without_scope == [], found.headers_without_scope
    unlabelled = [f for f in found.fields if not (f["wrapped"] or f["aria-label"] or f["id"] in found.label_for)]
    assert unlabelled == [], (path, unlabelled)


def test_the_checks_see_what_they_look_for():
    """The parser above on a page with every fault, so a check that can no longer fail shows here."""
    found = Structure()
    found.feed('<html><h1>a</h1><h3>b</h3><table><tr><th>x</th></tr></table><input name="q">'
               '<label>Y <select name="y"></select></label><label for="z">Z</label><input id="z" name="z"></html>')
    assert found.lang is None and found.headings == [1, 3] and found.tables == [{"caption": False}]
    assert len(found.headers_without_scope) == 1
    assert [f["name"] for f in found.fields if not (f["wrapped"] or f["id"] in found.label_for)] == ["q"]


def test_the_error_page_says_what_happened_as_an_alert_under_one_h1(client):
    client.app.state.http = httpx.AsyncClient(  # type: ignore[attr-defined]
        transport=httpx.MockTransport(lambda request: httpx.Response(503, headers={"Retry-After": "3"})))
    page = client.get("/kedjan")
    found = Structure()
    found.feed(page.text)
    assert page.status_code == 503 and found.lang == "sv" and found.headings == [1]
    assert '<p role="alert">' in page.text


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(ink: str, paper: str) -> float:
    lighter, darker = sorted((_luminance(ink), _luminance(paper)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_suppression_mark_is_readable_on_every_background_a_cell_can_have():
    """`..` takes the text colour (and, beside a gender gap, the muted one) on white, the table head, the heat
    map's four bands, a notice and a denied box: each at least 4.5:1 (WCAG AA for normal text)."""
    css = CSS.read_text()
    variables = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    heat = re.findall(r"td\.heat-\d[^{]*\{\s*background:\s*(#[0-9a-fA-F]{6})", css)
    notice = re.findall(r"\.(?:notice|ok)\s*\{[^}]*background:\s*(#[0-9a-fA-F]{6})", css)
    backgrounds = ["#ffffff", variables["bg-soft"], *heat, *notice]
    assert len(heat) == 4 and len(notice) == 2, (heat, notice)  # the CSS still says what this test reads
    assert "abbr.withheld" in css and not re.search(r"abbr\.withheld\s*\{[^}]*\bcolor:", css)  # inherits the ink
    for ink in (variables["ink"], variables["muted"]):
        for paper in backgrounds:
            assert contrast(ink, paper) >= 4.5, (ink, paper, round(contrast(ink, paper), 2))
