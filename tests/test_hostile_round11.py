"""Hostile inputs, eleventh round: the dashboard, a web app people sign in to.

Text others control (unit, area and group names from directory imports, LIKA titles, owners and comments,
subject and indicator labels, alert comments, organiser ids, column headers) reaches every page, chart data
island and download of the dashboard. The dashboard runs in-process here against fake reporting and LIKA
services (`httpx.MockTransport`) that put one hostile text in every field they answer, with a signed-in
session planted in its store; no broker, no database.

Found and fixed:
- Cookie flags: the session cookie was Secure only with `STYRKEDJA_DASHBOARD_COOKIE_SECURE=true`; a
  deployment on https that left it at its default (compose's is `false`) sent the session id in clear on any
  plain-http request to the host (a link, a typed address, a downgrade). A public URL on https now makes it
  Secure (`DashboardSettings.secure_cookies`), and its answers carry Strict-Transport-Security (there was none:
  a first visit over http could be served a look-alike sign-in page). Over https the cookie is
  `__Host-styrkedja_session`: a sibling host of the domain can no longer plant its own signed-in session on a
  user (cookie tossing, which rotation at sign-in does not stop).
- Sessions: every `/logga-in` without a cookie kept a new session in memory for the whole session lifetime
  (8 h), the sweep dropping only expired ones: a loop over one unauthenticated GET grew the dashboard's memory
  without bound. A sign-in in flight now lives 10 minutes and at most 10,000 are kept, the oldest given up
  first; signed-in sessions are never pushed out (services/dashboard/tests/test_sessions.py).
- The report PDF: every `/rapport.pdf` started a Chromium (a few hundred MB for up to a minute) however many
  were running, at any signed-in user's GET; now at most two print at once and the next gets a 503 with
  Retry-After and the advice to print from the browser (services/dashboard/tests/test_pdf.py).

- Logs: the dashboard never set up the services' logging (`styrkedja_kit.logging.configure_logging`), so the
  access line of its image's uvicorn carried every query string as sent, a personal identity number included;
  the kit's redaction now covers it like every service.

Already fine (swept here, each a test that fails if it regresses): stored XSS in every page, attribute, chart
data island (`<` escaped in the JSON), title and breadcrumb (Jinja autoescapes; text is never re-read as a
template; no href is built from a value alone, so no `javascript:` URL); CSP without inline script,
`frame-ancestors 'none'` and X-Frame-Options, nosniff, no-referrer, `no-store` on pages, downloads and error
pages; CSRF on the two state-changing requests there are (sign-out, acknowledging an alert; the dashboard
makes no LIKA edits or settings); the sign-in `next` and the acknowledgement's return address only ever a
local path (absolute, `//evil`, `/\\evil`, encoded, tab and newline forms); a forged or replayed callback;
a new session id at sign-in; an organiser outside the token refused before any read.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from styrkedja_dashboard.app import create_app
from styrkedja_dashboard.settings import DashboardSettings
from styrkedja_dashboard.web.sessions import COOKIE, Session
from styrkedja_kit.auth import principal_from_claims
from support import uvicorn_lines

ORGANISER = "2120000142"
UNIT = "12345678"
SID = str(uuid.UUID(int=7))
#: one text that would run in a page, an attribute, a script block, a URL or a template if it were not escaped
HOSTILE = ("</script><script>alert(1)</script>\"'><img src=x onerror=alert(2)><svg onload=alert(3)>"
           "{{7*7}}{% print(7*7) %}javascript:alert(4)")
RAW_MARKERS = ("<script>alert", "<img src=x", "<svg onload", "</script><script>", 'href="javascript:',
               "<img src=x onerror")


#: the figures reporting types as numbers (its schema): every other field is text, and hostile here
NUMBERS = {"year": 9, "share": 0.5, "assessed": 12, "reaching": 6, "gap": -0.05, "change": -0.2, "held": 10,
           "girls_share": 0.5, "boys_share": 0.55, "with_result": 12, "roster_size": 14, "expected": 20,
           "missing": 3, "previous_share": 0.7}


def _table(*keys: str) -> dict[str, Any]:
    columns = [{"key": k, "header": HOSTILE, "type": "number" if k in NUMBERS else "text"} for k in keys]
    row = {k: NUMBERS.get(k, HOSTILE) for k in keys}
    return {"columns": columns, "rows": [row]}


def _cell(unit_id: str, **extra: Any) -> dict[str, Any]:
    return {"level": "school_unit", "unit_id": unit_id, "subject_code": "GRGRMAT01", "school_year": "2026/27",
            "term": "HT", "round": 1, "share_reaching_pass": 0.5, "assessed": 12, "reaching_pass": 6,
            "year": 9, **extra}


def upstream(request: httpx.Request) -> httpx.Response:
    """Reporting and LIKA, answering every read with the hostile text in each field a page shows."""
    path = request.url.path
    body: Any
    if path.startswith("/v1/results/"):
        body = [_cell(HOSTILE), _cell(UNIT), _cell(HOSTILE, subject_code=HOSTILE)]
    elif path == "/v1/figures/history":
        body = {"columns": [{"key": "subject_code", "header": HOSTILE}, {"key": "year", "header": HOSTILE},
                            {"key": "period", "header": HOSTILE}, {"key": "share", "header": "s", "type": "share"}],
                "rows": [{"subject_code": HOSTILE, "year": 9, "period": HOSTILE, "share": 0.5},
                         {"subject_code": "GRGRMAT01", "year": 8, "period": "HT 2026/27", "share": 0.25}]}
    elif path.startswith("/v1/figures/"):
        body = _table("unit_id", "subject_code", "year", "share", "assessed", "reaching", "gap", "student_id",
                      "value", "kind", "held", "change", "girls_share", "boys_share", "with_result", "roster_size")
    elif path.endswith("/acknowledge"):
        body = {"alert_id": SID, "status": "acknowledged"}
    elif path == "/v1/alerts":
        body = [{"alert_id": SID, "level": HOSTILE, "unit_id": HOSTILE, "school_unit_code": HOSTILE,
                 "subject_code": HOSTILE, "year": 9, "school_year": HOSTILE, "term": HOSTILE, "round": None,
                 "rule": HOSTILE, "status": status, "comment": HOSTILE,
                 "figures": {"share": 0.5, "compared_share": 0.7, "change_points": -20.0, "students": 12,
                             "age_days": None},
                 "raised_at": "2026-11-10T08:05:00+00:00"} for status in ("open", HOSTILE)]
    elif path.endswith("/students-at-risk"):
        body = [{"student_id": HOSTILE, "year": 9, "group_ids": [HOSTILE], "subjects_below_pass": [HOSTILE],
                 "core_forecasts_not_reached": [HOSTILE], "active_support": [HOSTILE]}]
    elif path.startswith("/v1/compliance/"):
        body = _table("school_unit_code", "teacher_id", "group_id", "subject_code", "student_id", "status",
                      "expected", "missing")
    elif path == "/v1/support/summary":
        body = {HOSTILE: HOSTILE, "counts": {HOSTILE: HOSTILE}, "list": [HOSTILE]}
    elif path == "/v1/lika/school-units":
        body = [{"school_unit_code": HOSTILE, "school_form": HOSTILE, "respondent_role": HOSTILE,
                 "catalogue_version": HOSTILE, "published_at": "2026-11-10", "ratings": [HOSTILE]}]
    elif path == "/v1/self-assessments":
        body = [{"self_assessment_id": SID, "assessed_on": "2026-11-10", "respondent_role": HOSTILE, "status": HOSTILE,
                 "rated": 3, "indicators": 5}]
    elif path == "/v1/self-assessments/compare":
        body = {"area_radar": {"axes": [HOSTILE], "labels": [HOSTILE], "first": [1.5], "second": [2.5]},
                "discussion_points": [{"title": HOSTILE, "area": HOSTILE, "first": HOSTILE, "second": HOSTILE}]}
    elif path.endswith("/action-plan"):
        body = {"items": [{"position": 1, "title": HOSTILE, "indicator_id": HOSTILE, "area": HOSTILE,
                           "status": HOSTILE, "priority": 1, "suggested_term": HOSTILE, "owner": HOSTILE,
                           "due_date": "2026-11-10"}], "total_items": 1, "start_term": HOSTILE, "revision": HOSTILE}
    elif path.startswith("/v1/self-assessments/"):
        body = {"self_assessment_id": SID, "organiser_id": HOSTILE, "school_unit_code": HOSTILE,
                "catalogue_version": "2026.1", "school_form": "grundskola", "respondent_role": HOSTILE,
                "assessed_on": "2026-11-10"}
    elif path.startswith("/v1/catalogue/"):
        body = {"scale": [{"id": HOSTILE, "label": HOSTILE}]}
    else:
        return httpx.Response(404, json={"title": "not found", "detail": HOSTILE})
    return httpx.Response(200, json=body)


def plant_session(client: TestClient, **claims: Any) -> Session:
    """A signed-in session in the store and its id in the client's cookie jar (what a sign-in leaves)."""
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    session = sessions._new()
    session.token, session.token_expires_at = "opaque-token", time.time() + 600
    session.principal = principal_from_claims({"sub": "u-1", "roles": ["organiser_admin"],
                                                "organisers": [ORGANISER], **claims})
    client.cookies.set(COOKIE, session.id)
    return session


@pytest.fixture
def dashboard() -> Iterator[TestClient]:
    settings = DashboardSettings(reporting_url="http://reporting.test", lika_url="http://lika.test",
                                 issuer="http://issuer.test")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8100") as client:
        client.app.state.http = httpx.AsyncClient(transport=httpx.MockTransport(upstream))  # type: ignore[attr-defined]
        yield client


PAGES = [
    "/kedjan", "/kedjan?niva=area", "/kedjan?niva=group", f"/kedjan?enhet={UNIT}&huvudman={ORGANISER}",
    f"/nedbrytning?niva=school_unit&enhet={UNIT}&lasar=2026/27", "/nedbrytning?niva=group&enhet=g1&lasar=2026/27",
    "/nedbrytning", "/larm", "/larm?status=alla", "/rapportering", f"/rapportering?enhet={UNIT}&lista=group",
    "/lika", f"/lika?enhet={UNIT}", f"/lika/jamfor?forsta={SID}&andra={SID}", f"/lika/{SID}/handlingsplan",
    "/rapport", f"/rapport?enhet={UNIT}", "/finns-inte", "/kedjan?omgang=9",
]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for item in value for s in _strings(item)] if isinstance(value, list) else []


@pytest.mark.parametrize("path", PAGES)
def test_hostile_text_from_the_services_is_never_markup_script_or_template_on_any_page(dashboard, path):
    plant_session(dashboard)
    page = dashboard.get(path, follow_redirects=False)
    assert page.status_code in (200, 404, 422), (path, page.status_code, page.text[:300])
    text = page.text
    found = [m for m in RAW_MARKERS if m in text]
    assert not found, (path, found)
    if "onerror" in text:  # the hostile text is shown: its template syntax as typed, never evaluated
        assert "{{7*7}}" in text and "{% print(7*7) %}" in text
    for island in ("history-data", "radar-data"):
        opening = f'<script type="application/json" id="{island}">'
        start = text.find(opening)
        if start >= 0:
            data = text[start + len(opening): text.index("</script>", start)]
            parsed = json.loads(data)  # the island ends where the page's own tag does, and is the data
            assert any(HOSTILE in text for text in _strings(parsed)), island
    headers = page.headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"


def test_the_unit_pages_chart_island_carries_the_hostile_name_as_data(dashboard):
    plant_session(dashboard)
    page = dashboard.get(f"/kedjan?enhet={UNIT}&huvudman={ORGANISER}")
    assert page.status_code == 200 and 'id="history-data"' in page.text
    compare = dashboard.get(f"/lika/jamfor?forsta={SID}&andra={SID}")
    assert compare.status_code == 200 and 'id="radar-data"' in compare.text


@pytest.mark.parametrize("path", ["/kedjan/export.csv", "/kedjan/export.xlsx", "/larm/export.csv",
                                  "/larm/export.xlsx", f"/lika/{SID}/handlingsplan/export.csv",
                                  f"/kedjan/export.csv?enhet={UNIT}"])
def test_downloads_are_attachments_with_a_plain_name_and_never_cached(dashboard, path):
    plant_session(dashboard)
    answer = dashboard.get(path)
    assert answer.status_code == 200, (path, answer.text[:200])
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="') and disposition.count('"') == 2, disposition
    assert answer.headers["cache-control"] == "no-store" and answer.headers["x-content-type-options"] == "nosniff"
    assert "text/html" not in answer.headers["content-type"]


def test_the_session_cookie_is_secure_whenever_the_dashboard_is_reached_over_https():
    """Failed on the old code: with the public URL on https and COOKIE_SECURE at its default, no `Secure`."""
    for public, secure in (("https://styrkedja.example.se", True), ("HTTPS://styrkedja.example.se", True),
                           ("http://127.0.0.1:8100", False)):
        settings = DashboardSettings(public_url=public, issuer="http://issuer.test")
        app = create_app(settings)
        from starlette.responses import Response

        response = Response()
        session = app.state.sessions._new()
        app.state.sessions.write_cookie(response, session)
        cookie = response.headers["set-cookie"]
        assert ("; secure" in cookie.lower()) is secure, (public, cookie)
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "domain" not in cookie.lower()
        assert cookie.startswith("__Host-styrkedja_session=" if secure else "styrkedja_session="), cookie
    assert DashboardSettings(public_url="http://x", cookie_secure=True).secure_cookies


def test_over_https_only_the_host_only_cookie_is_a_session():
    """Failed on the old code: over https the session was read from a plain `styrkedja_session` cookie, which a
    sibling host of the domain may set (cookie tossing: its own signed-in session planted on a user)."""
    settings = DashboardSettings(public_url="https://styrkedja.example.se", issuer="http://issuer.test")
    with TestClient(create_app(settings), base_url="https://styrkedja.example.se") as client:
        client.app.state.http = httpx.AsyncClient(transport=httpx.MockTransport(upstream))  # type: ignore[attr-defined]
        client.app.state.oidc = _Issuer()  # type: ignore[attr-defined]
        assert client.get("/logga-in", follow_redirects=False).status_code == 303
        done = client.get("/auth/callback", params={"code": "good", "state": "s1"}, follow_redirects=False)
        assert done.headers["set-cookie"].startswith("__Host-styrkedja_session=")
        assert client.get("/larm", follow_redirects=False).status_code == 200
        sid = client.cookies.get("__Host-styrkedja_session")
        client.cookies.clear()
        client.cookies.set(COOKIE, sid or "")  # the same id under the name any host of the domain may set
        assert client.get("/larm", follow_redirects=False).status_code == 303  # not a session: sign in


def test_over_https_browsers_are_told_to_stay_on_https():
    """Failed on the old code: no Strict-Transport-Security, so a first visit over http could be served a
    look-alike sign-in page by anyone on the path."""
    for public, hsts in (("https://styrkedja.example.se", True), ("http://127.0.0.1:8100", False)):
        with TestClient(create_app(DashboardSettings(public_url=public, issuer="http://issuer.test"))) as client:
            for path in ("/", "/healthz", "/finns-inte", "/static/app.css"):
                answer = client.get(path)
                assert ("strict-transport-security" in answer.headers) is hsts, (public, path)
                if hsts:
                    assert answer.headers["strict-transport-security"] == "max-age=31536000"


#: every spelling of "somewhere else" a next/return field has been known to smuggle past a prefix check
ELSEWHERE = ["https://evil.example/", "//evil.example/", "/\\evil.example/", "\\\\evil.example", "/\\/evil.example",
             "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example", " //evil.example",
             "javascript:alert(1)", "%2F%2Fevil.example", "/%2F/evil.example", "http:evil.example",
             "/larm//evil.example", "//larm", "/larm\\@evil.example", "https:/\\evil.example"]


def _local(location: str) -> bool:
    """Where a browser goes with this Location, seen from the dashboard: the same origin or not."""
    # browsers drop tab and newline from URLs and treat `\` as `/` for http(s)
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/").strip()
    target = urlsplit(httpx.URL("http://127.0.0.1:8100/").join(cleaned).__str__())
    return target.netloc == "127.0.0.1:8100" and target.scheme == "http"


class _Issuer:
    """Stands for the OIDC client: the authorization URL and what it keeps, no network."""

    async def authorization(self) -> tuple[str, dict[str, str]]:
        return "http://issuer.test/authorize?state=s1", {"state": "s1", "verifier": "v" * 64}

    async def redeem(self, *, code: str, state: str, expected: dict[str, str]) -> Any:
        from styrkedja_dashboard.auth.oidc import SignInFailed

        if state != expected.get("state") or code != "good":
            raise SignInFailed("state")
        claims = {"sub": "u-1", "roles": ["organiser_admin"], "organisers": [ORGANISER], "exp": time.time() + 600}
        return "opaque-token", claims["exp"], principal_from_claims(claims), claims, None

    async def end_session(self, id_token: str | None) -> str | None:
        return None  # a provider without RP-initiated logout: signed out here only


@pytest.mark.parametrize("target", ELSEWHERE)
def test_sign_in_never_sends_the_browser_elsewhere_afterwards(dashboard, target):
    dashboard.app.state.oidc = _Issuer()  # type: ignore[attr-defined]
    start = dashboard.get("/logga-in", params={"next": target}, follow_redirects=False)
    assert start.status_code == 303
    before = dashboard.cookies.get(COOKIE)
    done = dashboard.get("/auth/callback", params={"code": "good", "state": "s1"}, follow_redirects=False)
    assert done.status_code == 303 and _local(done.headers["location"]), (target, done.headers["location"])
    assert dashboard.cookies.get(COOKIE) not in (None, before)  # a new id at sign-in
    # replayed: the state was spent with the old session
    dashboard.cookies.set(COOKIE, before or "")
    again = dashboard.get("/auth/callback", params={"code": "good", "state": "s1"}, follow_redirects=False)
    assert again.status_code == 400


def test_a_forged_state_signs_nobody_in(dashboard):
    dashboard.app.state.oidc = _Issuer()  # type: ignore[attr-defined]
    dashboard.get("/logga-in", follow_redirects=False)
    forged = dashboard.get("/auth/callback", params={"code": "good", "state": "s2"}, follow_redirects=False)
    assert forged.status_code == 400
    # and the flow is spent: the right state afterwards is refused too
    assert dashboard.get("/auth/callback", params={"code": "good", "state": "s1"},
                         follow_redirects=False).status_code == 400
    assert dashboard.get("/kedjan", follow_redirects=False).headers["location"].startswith("/logga-in")


@pytest.mark.parametrize("back", ELSEWHERE)
def test_acknowledging_an_alert_returns_only_to_the_alerts_page(dashboard, back):
    session = plant_session(dashboard)
    answer = dashboard.post(f"/larm/{SID}/kvittera", data={"csrf": session.csrf, "kommentar": HOSTILE,
                                                           "tillbaka": back}, follow_redirects=False)
    assert answer.status_code == 303 and _local(answer.headers["location"]), (back, answer.headers["location"])


def test_every_state_changing_request_needs_the_sessions_csrf_token(dashboard):
    sent: list[str] = []

    def recording(request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            sent.append(request.url.path)
        return upstream(request)

    dashboard.app.state.http = httpx.AsyncClient(transport=httpx.MockTransport(recording))  # type: ignore[attr-defined]
    other = plant_session(dashboard)
    mine = plant_session(dashboard)
    for csrf in (None, "", "forged", other.csrf, mine.csrf + "x", mine.id):
        data = {"kommentar": "ok", **({"csrf": csrf} if csrf is not None else {})}
        assert dashboard.post(f"/larm/{SID}/kvittera", data=data, follow_redirects=False).status_code == 403
        assert dashboard.post("/logga-ut", data=data, follow_redirects=False).status_code == 403
    assert sent == []  # nothing reached reporting
    assert dashboard.get("/larm").status_code == 200  # still signed in
    # the state-changing routes take no GET (a link or an <img> cannot do them)
    for path in (f"/larm/{SID}/kvittera", "/logga-ut"):
        assert dashboard.get(path, follow_redirects=False).status_code in (404, 405)
    ok = dashboard.post(f"/larm/{SID}/kvittera", data={"csrf": mine.csrf, "kommentar": "ok"}, follow_redirects=False)
    assert ok.status_code == 303 and sent == [f"/v1/alerts/{SID}/acknowledge"]
    assert dashboard.post("/logga-ut", data={"csrf": mine.csrf}, follow_redirects=False).status_code == 303
    assert dashboard.get("/larm", follow_redirects=False).status_code == 303  # signed out


def test_an_organiser_or_unit_outside_the_token_is_refused_before_any_read(dashboard):
    asked: list[str] = []
    tokens: set[str | None] = set()

    def recording(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        tokens.add(request.headers.get("authorization"))
        return upstream(request)

    dashboard.app.state.http = httpx.AsyncClient(transport=httpx.MockTransport(recording))  # type: ignore[attr-defined]
    plant_session(dashboard, roles=["principal"], school_units=[UNIT])
    for path in ("/kedjan?huvudman=2999999999", "/larm?huvudman=2999999999", "/rapportering?huvudman=2999999999",
                 "/lika?huvudman=2999999999", "/rapport?huvudman=2999999999",
                 "/nedbrytning?huvudman=2999999999", "/kedjan/export.csv?huvudman=2999999999",
                 "/larm/export.csv?huvudman=2999999999"):
        answer = dashboard.get(path, follow_redirects=False)
        assert answer.status_code == 403, (path, answer.status_code)
    assert asked == []
    # another unit in the URL is the service's to refuse: the dashboard sends the user's own token, never more
    dashboard.get("/kedjan?enhet=87654321&huvudman=" + ORGANISER)
    assert asked and tokens == {"Bearer opaque-token"}


def test_a_login_link_carries_the_page_only_as_a_local_path(dashboard):
    answer = dashboard.get("/kedjan?niva=group", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/logga-in?next=" + quote("/kedjan?niva=group", safe="")


def test_a_report_pdf_while_the_host_prints_its_maximum_is_a_503_to_retry_not_another_browser(dashboard,
                                                                                             monkeypatch):
    """Failed on the old code: every /rapport.pdf started a Chromium of its own, however many were running."""
    from styrkedja_dashboard.report import pdf

    plant_session(dashboard)
    dashboard.app.state.settings.chromium = "/bin/sh"  # type: ignore[attr-defined]  # exists; never started here
    monkeypatch.setattr(pdf._gate, "running", pdf.MAX_PRINTS)
    answer = dashboard.get("/rapport.pdf")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "10"
    assert "Skriv ut sidan från webbläsaren" in answer.text and answer.headers["cache-control"] == "no-store"


@pytest.fixture
def dashboard_logs() -> Iterator[Any]:
    """uvicorn's logging as its command line (the dashboard's image) sets it up, then the dashboard's app."""
    with uvicorn_lines(lambda: create_app(DashboardSettings(issuer="http://issuer.test"))) as buffer:
        yield buffer


@pytest.mark.parametrize("path", ["/kedjan?enhet=19121212-1212", "/logga-in?next=%2Fkedjan%3Fq%3D121212%2B1212",
                                  "/lika/19121212%2D1212/handlingsplan"])
def test_the_dashboards_access_line_never_carries_a_personal_identity_number(dashboard_logs, path):
    """Failed on the old code: the dashboard never set up the services' logging, so its image's uvicorn access
    line went out as the browser sent it."""
    import logging

    from styrkedja_contracts.identifiers import contains_personal_identity_number

    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 422)
    line = dashboard_logs.getvalue()
    assert '"GET ' in line and " 422" in line, line
    assert not contains_personal_identity_number(line) and "[REDACTED]" in line, line
