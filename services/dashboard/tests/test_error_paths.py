"""The dashboard's error paths: an unexpected failure, an alert whose figures lack a key, a busy or broken
service. The dashboard runs in-process against a fake reporting (`httpx.MockTransport`) with a signed-in
session planted in its store; no broker, no database."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from styrkedja_dashboard.app import create_app
from styrkedja_dashboard.chain.figures import unit_extras
from styrkedja_dashboard.clients import MAX_RETRY_AFTER, Reporting, retry_after
from styrkedja_dashboard.figures import figure_table
from styrkedja_dashboard.settings import DashboardSettings
from styrkedja_dashboard.web.sessions import COOKIE
from styrkedja_kit.auth import principal_from_claims

ORGANISER = "2120000142"
SECRET = "internal-detail-7f3a: /srv/app/secret.py line 42"

Upstream = Callable[[httpx.Request], httpx.Response]


def _alert(**figures: Any) -> dict[str, Any]:
    return {"alert_id": str(uuid.UUID(int=1)), "level": "school_unit", "unit_id": "U1", "school_unit_code": "12345678",
            "subject_code": "GRGRMAT01", "year": 9, "school_year": "2026/27", "term": "HT", "round": None,
            "rule": "freshness_red", "status": "open", "comment": None, "figures": figures,
            "raised_at": "2026-11-10T08:05:00+00:00"}


@pytest.fixture
def dashboard() -> Iterator[Callable[[Upstream], TestClient]]:
    """A signed-in dashboard whose reporting answers with the function given."""
    settings = DashboardSettings(reporting_url="http://reporting.test", lika_url="http://lika.test",
                                 issuer="http://issuer.test")
    # raise_server_exceptions off: what a browser gets is the answer, not the test client re-raising the error
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8100", raise_server_exceptions=False) as client:
        def answering(upstream: Upstream) -> TestClient:
            client.app.state.http = httpx.AsyncClient(transport=httpx.MockTransport(upstream))  # type: ignore[attr-defined]
            session = client.app.state.sessions._new()  # type: ignore[attr-defined]
            session.token, session.token_expires_at = "opaque-token", time.time() + 600
            session.principal = principal_from_claims({"sub": "u-1", "roles": ["organiser_admin"],
                                                        "organisers": [ORGANISER]})
            client.cookies.set(COOKIE, session.id)
            return client
        yield answering


def _alerts(*alerts: dict[str, Any]) -> Upstream:
    return lambda request: httpx.Response(200, json=list(alerts))


def _security_headers(answer: httpx.Response) -> None:
    headers = answer.headers
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), dict(headers)
    assert headers.get("x-frame-options") == "DENY" and headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") == "no-referrer" and headers.get("cache-control") == "no-store"


def test_an_unexpected_error_is_a_500_page_with_every_security_header_and_nothing_internal(dashboard, monkeypatch):
    """Failed on the old code: Starlette's plain-text 500, built outside the middleware, carried no CSP,
    X-Frame-Options, nosniff, no-referrer or no-store."""
    async def broken(self: Reporting, **filters: Any) -> list[dict[str, Any]]:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(Reporting, "alerts", broken)
    monkeypatch.setattr(Reporting, "alert_page", broken)  # the page reads one page of them, the download every one
    answer = dashboard(_alerts()).get("/larm")
    assert answer.status_code == 500
    _security_headers(answer)
    assert answer.headers["content-type"].startswith("text/html")
    assert "Något gick fel" in answer.text
    for internal in (SECRET, "RuntimeError", "Traceback", "secret.py"):
        assert internal not in answer.text
    # the download route too: every answer carries the headers
    failed = dashboard(_alerts()).get("/larm/export.csv")
    assert failed.status_code == 500 and SECRET not in failed.text
    _security_headers(failed)


def test_an_alert_whose_figures_lack_keys_renders_with_dashes(dashboard):
    """Failed on the old code: `alerts.html` answered 500 for figures without `age_days` (Jinja's Undefined is
    `not none`, and formatting it raised), and for an alert without figures at all."""
    client = dashboard(_alerts(_alert(share=0.5), _alert(), {**_alert(), "figures": None},
                               {k: v for k, v in _alert().items() if k not in ("figures", "raised_at")},
                               _alert(share="not a number", age_days="x", change_points=None)))
    page = client.get("/larm")
    assert page.status_code == 200, page.text[:300]
    assert "50,0\u00a0%" in page.text  # what is there is shown
    assert page.text.count(">–</td>") >= 9  # missing shares and the missing raised_at: a dash each
    assert "dagar" not in page.text and "procentenheter" not in page.text
    for fmt in ("csv", "xlsx"):
        assert client.get(f"/larm/export.{fmt}").status_code == 200


def test_the_full_figures_still_render_every_figure(dashboard):
    page = dashboard(_alerts(_alert(share=0.5, compared_share=0.7, change_points=-20.0, students=12,
                                    age_days=400))).get("/larm")
    assert page.status_code == 200
    assert "400 dagar" in page.text and "−20,0 procentenheter" in page.text and "70,0\u00a0%" in page.text
    assert "2026-11-10 09:05" in page.text


def test_a_busy_service_is_a_503_with_its_retry_after_bounded(dashboard):
    """Failed on the old code: the service's 503 became a 502 and its Retry-After was dropped."""
    for sent, passed in (("7", "7"), ("120", "120"), ("86400", str(MAX_RETRY_AFTER)), ("Wed, 21 Oct 2026 07:28:00 GMT",
                         None), ("-5", None), ("1e3", None), (None, None)):
        headers = {} if sent is None else {"Retry-After": sent}
        client = dashboard(lambda request, headers=headers: httpx.Response(
            503, headers=headers, json={"title": "database_busy", "detail": "busy"}))
        answer = client.get("/larm")
        assert answer.status_code == 503, (sent, answer.status_code)
        assert answer.headers.get("retry-after") == passed, (sent, answer.headers.get("retry-after"))
        assert "upptagen" in answer.text and (f"om {passed} s" in answer.text if passed else "om en stund" in answer.text)
        _security_headers(answer)


@pytest.mark.parametrize("upstream", [
    lambda request: httpx.Response(500, text="boom"),
    lambda request: httpx.Response(200, text="<html>not json</html>"),
])
def test_a_service_that_fails_or_answers_nonsense_is_a_502(dashboard, upstream):
    """A service that is down, restarting or slow is a 503 with a Retry-After (test_unavailable.py)."""
    answer = dashboard(upstream).get("/larm")
    assert answer.status_code == 502 and "retry-after" not in answer.headers, answer.text[:300]
    assert "Tjänsten reporting" in answer.text and ("svarade med ett fel" in answer.text or "inte kunde läsas" in answer.text)
    _security_headers(answer)


def test_retry_after_takes_digits_only_and_at_most_a_few_minutes():
    assert retry_after("0") == 0 and retry_after("30") == 30 and retry_after("99999999999999") is None
    assert retry_after("301") == MAX_RETRY_AFTER == 300
    for bad in (None, "", " 5", "5 ", "+5", "5.0", "٥", "Wed, 21 Oct 2026 07:28:00 GMT"):
        assert retry_after(bad) is None, bad


def test_an_unknown_freshness_band_is_no_badge():
    """Failed on the old code: a band outside green/yellow/red became the unit's badge, and the page's
    `BANDS[u.band][0]` raised (a 500 for the whole chain page)."""
    table = figure_table({"columns": [{"key": "unit_id"}, {"key": "band"}, {"key": "newest"}],
                          "rows": [{"unit_id": "U1", "band": "purple", "newest": "2026-11-10"},
                                   {"unit_id": "U2", "band": "red", "newest": "2026-11-10"},
                                   {"unit_id": "U2", "band": "purple", "newest": "2026-11-11"}]})
    extras = unit_extras(table, None)
    assert extras["U1"].band is None and extras["U2"].band == "red" and extras["U2"].newest == "2026-11-10"


def test_the_formats_show_nothing_for_a_missing_or_mistyped_value_and_never_raise():
    """Failed on the old code: Jinja hands a missing key over as `Undefined`, which every format raised on (the
    same for text where a number belongs, or a date that is none); a template indexing a short list hit it."""
    from jinja2 import Undefined

    from styrkedja_dashboard import formats

    for value in (Undefined(), None, "x", True, [1], {"value": 1}):
        for fmt in (formats.share, formats.number, formats.points, formats.level):
            assert fmt(value) == "", (fmt.__name__, value)  # type: ignore[arg-type]
        if not isinstance(value, str):
            assert formats.day(value) == "", value  # type: ignore[arg-type]
    assert formats.day("inte ett datum") == "inte ett datum"  # shown as sent (the page escapes it)
    assert formats.share(0.734) == "73,4\u00a0%" and formats.number(1200) == "1\u00a0200"
    assert formats.points(-0.2) == "−20,0 procentenheter" and formats.day("2026-11-10") == "2026-11-10"
