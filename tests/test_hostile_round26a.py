"""Hostile inputs, round 26 (a): the dashboard as a hostile browser, user and upstream see it — what rounds 11 and 12
(stored XSS, chart islands, cookies, CSRF, `next=`, odd upstream shapes) did not try.

The dashboard runs in-process against a fake reporting and LIKA (`httpx.MockTransport`), with a signed-in session
planted in its store; no broker, no database.

Found and fixed (each test failed on the old code, as said at it):
- The framework's own refusals were no page: an unknown path (`/nope`, `/kedjan/`), a method a page does not take
  (POST `/kedjan`) and a file `/static` lacks were answered with FastAPI's JSON `{"detail": "Not Found"}` (the
  HTML handler was registered for FastAPI's HTTPException, the router raises Starlette's), and the 405 page the
  app did render for its own lost the Allow header. Now every one is the HTML error page, in Swedish, with its
  Allow.
- HEAD of any page was a 405 (FastAPI's routes take only the methods they name); now answered as GET, no body.
- The report PDF's name was built from the period reporting's results named (when the page named none) and put in
  Content-Disposition as it was: a quote in it started a parameter of the sender's choosing (`filename=x.html`), a
  line break a header of its choosing, a character outside Latin-1 (`ö`, U+202E) a 500. Every download's name now
  goes through one rule (`downloads.attachment_header`): `A-Za-z0-9._-` only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import styrkedja_dashboard.report.routes as report_routes
from styrkedja_dashboard.app import create_app
from styrkedja_dashboard.downloads import attachment_header
from styrkedja_dashboard.settings import DashboardSettings
from styrkedja_dashboard.web.sessions import COOKIE
from styrkedja_kit.auth import principal_from_claims

ORGANISER, UNIT = "2120000142", "12345678"


def _cell(**extra: Any) -> dict[str, Any]:
    return {"level": "school_unit", "unit_id": UNIT, "subject_code": "GRGRMAT01", "school_year": "2026/27",
            "term": "HT", "round": 1, "share_reaching_pass": 0.5, "assessed": 12, "reaching_pass": 6, "year": 9,
            **extra}


def services(request: httpx.Request) -> httpx.Response:
    """Reporting and LIKA answering every read the pages make, plainly."""
    path = request.url.path
    if path.endswith("openid-configuration"):
        return httpx.Response(200, json={"authorization_endpoint": "http://issuer.test/authorize",
                                         "token_endpoint": "http://issuer.test/token"})
    if path.startswith("/v1/results/"):
        return httpx.Response(200, json=[_cell()])
    if path.startswith(("/v1/figures/", "/v1/compliance/")):
        return httpx.Response(200, json={"columns": [], "rows": []})
    if path == "/v1/support/summary":
        return httpx.Response(200, json={})
    if path in ("/v1/alerts", "/v1/lika/school-units", "/v1/self-assessments") or path.endswith(
            ("/tree", "/students-at-risk")):
        return httpx.Response(200, json=[])
    return httpx.Response(404, json={"detail": "not here"})


@pytest.fixture
def dashboard() -> Iterator[TestClient]:
    settings = DashboardSettings(reporting_url="http://reporting.test", lika_url="http://lika.test",
                                 issuer="http://issuer.test")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8100", raise_server_exceptions=False) as client:
        client.app.state.http = client.app.state.oidc.http = httpx.AsyncClient(  # type: ignore[attr-defined]
            transport=httpx.MockTransport(services))
        yield client


def sign_in(client: TestClient, upstream: Any = services) -> str:
    """A signed-in session planted in the store, the services answering with `upstream`; its CSRF token."""
    client.app.state.http = httpx.AsyncClient(transport=httpx.MockTransport(upstream))  # type: ignore[attr-defined]
    session = client.app.state.sessions._new()  # type: ignore[attr-defined]
    session.token, session.token_expires_at = "opaque-token", time.time() + 600
    session.principal = principal_from_claims({"sub": "u-1", "roles": ["organiser_admin"], "organisers": [ORGANISER],
                                                "school_units": [UNIT]})
    client.cookies.set(COOKIE, session.id)
    return session.csrf


def _a_page(answer: httpx.Response) -> None:
    assert answer.headers["content-type"].startswith("text/html"), (answer.status_code, answer.headers)
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store" and answer.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("signed_in", [False, True])
@pytest.mark.parametrize(("method", "path", "status", "allow"), [
    ("GET", "/nope", 404, None), ("GET", "/kedjan/", 404, None), ("GET", "/lika/x/y/z", 404, None),
    ("GET", "/static/nope.css", 404, None), ("GET", "/static", 404, None),
    ("POST", "/kedjan", 405, "GET"), ("PUT", "/", 405, "GET"), ("DELETE", "/larm", 405, "GET"),
    ("OPTIONS", "/rapport", 405, "GET"), ("GET", "/logga-ut", 405, "POST"), ("POST", "/static/app.css", 405, None)])
def test_the_frameworks_own_refusals_are_the_html_error_page_with_their_allow(dashboard, signed_in, method, path,
                                                                              status, allow):
    """Failed on the old code: each was FastAPI's JSON `{"detail": "Not Found"}` / `"Method Not Allowed"`."""
    if signed_in:
        sign_in(dashboard)
    answer = dashboard.request(method, path, follow_redirects=False)
    assert answer.status_code == status, answer.status_code
    _a_page(answer)
    assert "<h1>Sidan kunde inte visas</h1>" in answer.text and '"detail"' not in answer.text
    assert ("finns inte" if status == 404 else "metoden stöds inte") in answer.text
    if status == 405:
        assert allow is None or answer.headers["allow"] == allow, answer.headers.get("allow")
        assert "GET" in answer.headers["allow"] or "POST" in answer.headers["allow"]


@pytest.mark.parametrize("path", ["/", "/kedjan", "/larm", "/lika", "/rapport", "/rapportering", "/healthz",
                                  "/static/app.css", "/nope"])
def test_head_of_a_page_is_its_get_without_the_body(dashboard, path):
    """Failed on the old code: a 405 for every page (only /static answered HEAD)."""
    sign_in(dashboard)
    got, head = dashboard.get(path, follow_redirects=False), dashboard.head(path, follow_redirects=False)
    assert head.status_code == got.status_code and head.content == b"", (path, head.status_code, got.status_code)
    assert head.headers.get("content-type") == got.headers.get("content-type")
    assert head.headers.get("content-length") == got.headers.get("content-length")
    assert head.headers["content-security-policy"] == got.headers["content-security-policy"]


@pytest.mark.parametrize("school_year", ["2026/27\r\nSet-Cookie: planted=1", '2026/27"; filename=x.html', "2026/27ö",
                                         "2026/27\u202egpj.exe", "2026/27\x00", "../../etc/passwd"])
def test_the_report_pdfs_name_is_a_plain_name_whatever_period_reporting_names(dashboard, monkeypatch, school_year):
    """Failed on the old code: the period went into Content-Disposition as sent (a second header, a `filename`
    parameter of the sender's, or a 500)."""
    async def printed(html: str, stylesheet: Any, *, chromium: str) -> bytes:
        return b"%PDF-1.4"

    monkeypatch.setattr(report_routes, "html_to_pdf", printed)

    def hostile(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/results/assessments":
            return httpx.Response(200, json=[_cell(school_year=school_year)])
        return services(request)

    sign_in(dashboard, hostile)
    answer = dashboard.get("/rapport.pdf", follow_redirects=False)
    assert answer.status_code == 200, answer.status_code
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="kvalitetsrapport-212000-0142-HT-'), disposition
    name = disposition.removeprefix('attachment; filename="').removesuffix('.pdf"')
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name), disposition
    assert "set-cookie" not in answer.headers


def test_a_download_name_keeps_only_plain_characters_and_its_extension():
    assert attachment_header("larm-212000-0142-2026-12-05.csv") == 'attachment; filename="larm-212000-0142-2026-12-05.csv"'
    assert attachment_header('a"\r\nb/ö\u202e.pdf') == 'attachment; filename="a-b.pdf"'
    assert attachment_header('"";.x"ls') == 'attachment; filename="fil.xls"'
