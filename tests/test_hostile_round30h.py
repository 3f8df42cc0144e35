"""Hostile round 30h: the doors this session added, probed with hostile input.

Found and fixed (each test failed on the old code, as said at it):
- Reporting's audit trail (`GET /v1/audit/reads`) wrote its paging cursor as the last row's moment and its id. The id
  is the audit table's one sequence, shared by every organiser's reads (the rows themselves leave it out): base64 of
  the cursor gave it back, and two cursors told an organiser admin how many student-level reads other organisers'
  users made between two of its own. Round 30 made the cursor the moment and how many of this organiser's rows at that
  moment were left; round 31 (place31) replaced that count with the row's random `ref` (a count moved when a read
  committed late and skipped it), looked up again on the server: still no id of any row.
- A forged audit cursor naming a number past PostgreSQL's bigint (its base64 is `cursor_of`'s spelling, so it passed
  the round-trip check) was a 500, and the next request on that connection was reset. Now a count out of its bounds
  is no cursor of the service's: 422 naming `after`, `page_cursor`.
- `STYRKEDJA_METRICS_BIND` took any text. Empty, a typo (`not a host`), an address with a port, or an address of no
  interface of the host: the listener failed, the service served on without metrics and logged it as another worker
  holding the port. Now the setting is an IP address or a host name (the settings refuse anything else naming
  `metrics_bind`), and a listener that cannot listen for any reason but a taken port stops the start with a message
  naming `STYRKEDJA_METRICS_BIND` and `STYRKEDJA_METRICS_PORT`, before any task runs (a taken port still lets a
  second worker serve on, round 30o). `STYRKEDJA_METRICS_PORT` (`abc`, 0, 70000) and `STYRKEDJA_METRICS_ON_APP_PORT`
  (`maybe`) were already refused naming the setting (held).

What held (probed, each answer as the rules say):
- the alert list's cursor carries the last row's `changed_at` and `alert_id`, both in the row the reader was shown;
  a cursor of another route, one edited, truncated or too long, percent-encoded or of other characters, a cursor
  naming year 1 or 9999: 422 naming `after` or an empty page; a repeated parameter: 422 `repeated`; the `Link`
  header is the request's own query re-encoded (unknown parameters are refused before it is written).
- `literal_path_first` (LIKA's `/v1/self-assessments/published`, POST only): GET, HEAD, OPTIONS, DELETE, `%70ublished`,
  a `..` segment resolved to it and a query: 405 with `Allow: POST`; a trailing slash or `//`: 404; `Published` and a
  20,000-character segment are ids (422 naming `self_assessment_id`); an unknown method: 400; `%2F`: 400.
- `/readyz` with a malformed token: 401 `invalid_token`; two Authorization headers (either order): 401
  `single_header`; a 100 kB token: 431. `ops` spelled `OPS`, `Ops`, ` ops` or `ops `: no role, the probe's answer
  and the consumer headers withheld; `ops` among other roles is the ops role (the headers are told: every organiser's
  figure, as to any ops token, whatever its organisers).
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from inprocess import auth, start_service
from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from styrkedja_devstack.postgres import free_port
from styrkedja_kit.app import serve_metrics
from styrkedja_kit.paging import cursor_of
from styrkedja_kit.settings import ServiceSettings
from styrkedja_reporting.access.tables import audit_reads

pytestmark = [pytest.mark.integration]

ORG, OTHER = "2999", "0180"
T0 = datetime(2026, 10, 1, 8, tzinfo=UTC)


def _row(organiser: str, at: datetime, n: int) -> dict[str, Any]:
    return dict(at=at, subject=f"reader-{organiser}-{n}", client_id=None, roles="principal", organiser_id=organiser,
                level="student", what=f"GET /v1/results/assessments?n={n}", scope={})


async def _insert(url: str, rows: list[dict[str, Any]]) -> list[int]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(audit_reads), rows)
            return list((await connection.execute(select(audit_reads.c.id))).scalars())
    finally:
        await engine.dispose()


def _admin(token_issuer: Any) -> dict[str, str]:
    token = token_issuer.mint(roles=["organiser_admin"], organisers=[ORG], subject="round30h", client_id="round30h")
    return {"Authorization": f"Bearer {token}"}


def _decoded(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


def test_the_audit_cursor_names_no_row_id_and_pages_every_row_once(reporting, token_issuer):
    """Another organiser's 300 reads, then this organiser's, interleaved with more of the other's; five of this
    organiser's at one moment. Paged two at a time — a read at the moment of a page's last row recorded between two
    pages — every row is read once and no cursor carries an id of the table. Failed on the old code: each cursor's
    text ended in its last row's id (`…|305`)."""
    other = [_row(OTHER, T0 - timedelta(days=1, seconds=n), n) for n in range(300)]
    own = [_row(ORG, T0 + timedelta(seconds=n // 5 * 5 + (0 if n < 5 else n)), n) for n in range(12)]
    ids = asyncio.run(_insert(reporting.database_url, other + [r for pair in zip(own, other[:12], strict=True)
                                                               for r in pair]))
    seen: list[str] = []
    cursors: list[str] = []
    with httpx.Client(base_url=reporting.url, headers=_admin(token_issuer), timeout=60) as client:
        params: dict[str, Any] = {"organiser_id": ORG, "limit": 2}
        while True:
            page = client.get("/v1/audit/reads", params=params)
            assert page.status_code == 200, page.text
            seen += [row["subject"] for row in page.json()]
            link = page.links.get("next", {}).get("url")
            if link is None:
                break
            [after] = parse_qs(urlsplit(link).query)["after"]
            cursors.append(after)
            params = {**params, "after": after}
            if len(cursors) == 1:  # at the moment of the first page's last row (T0 + 5 s): a greater id, before it
                last = page.json()[-1]
                ids += asyncio.run(_insert(reporting.database_url, [_row(ORG, datetime.fromisoformat(last["at"]),
                                                                         99)]))
    assert sorted(seen) == sorted(r["subject"] for r in own), seen
    told = {_decoded(cursor).rpartition("|")[2] for cursor in cursors}
    assert not told & {str(i) for i in ids if i > 12}, (told, cursors)


@pytest.mark.parametrize("told", [10**30, 2**63, -1, 10**7])
def test_an_audit_cursor_out_of_bounds_is_a_422_naming_after_and_the_next_request_is_answered(
        reporting, token_issuer, told):
    """`cursor_of`'s own spelling of a number no page wrote. Failed on the old code: 10**30 and 2**63 were a 500 and
    the connection's next request was reset."""
    with httpx.Client(base_url=reporting.url, headers=_admin(token_issuer), timeout=60) as client:
        answer = client.get("/v1/audit/reads", params={"organiser_id": ORG, "after": cursor_of(T0, told)})
        assert answer.status_code == 422, answer.text
        assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("after", "page_cursor")], answer.text
        assert client.get("/v1/audit/reads", params={"organiser_id": ORG}).status_code == 200


@pytest.mark.parametrize("roles", [["OPS"], ["Ops"], [" ops"], ["ops "]])
def test_ops_spelled_otherwise_is_no_ops_role(reporting, token_issuer, roles):
    """Held: the consumer headers withheld on a read, /readyz the probe's answer."""
    token = token_issuer.mint(roles=["organiser_admin", *roles], organisers=[ORG], subject="r30h", client_id="r30h")
    headers = {"Authorization": f"Bearer {token}"}
    read = httpx.get(reporting.url + "/v1/alerts", params={"organiser_id": ORG}, headers=headers, timeout=60)
    assert read.status_code == 200, read.text
    assert read.headers["x-styrkedja-newest-event-time"] == "withheld", read.headers
    assert read.headers["x-styrkedja-consumer-lag"] == "withheld", read.headers
    ready = httpx.get(reporting.url + "/readyz", headers=headers, timeout=60)
    assert set(ready.json()) == {"service", "status", "checks"}, ready.text


@pytest.mark.parametrize("bind", ["", "not a host", "127.0.0.1:9000", "host/metrics", "a" * 300])
def test_a_metrics_bind_that_is_no_address_is_refused_naming_the_setting(bind, monkeypatch):
    """Failed on the old code: each was taken (and the listener then failed unsaid but as a taken port)."""
    monkeypatch.setenv("STYRKEDJA_METRICS_BIND", bind)
    with pytest.raises(ValidationError) as refused:
        ServiceSettings()
    assert [error["loc"] for error in refused.value.errors()] == [("metrics_bind",)]


@pytest.mark.parametrize("bind", ["127.0.0.1", "::1", "localhost", "0.0.0.0"])
def test_a_metrics_bind_of_an_address_or_a_name_is_taken(bind, monkeypatch):
    monkeypatch.setenv("STYRKEDJA_METRICS_BIND", bind)
    assert ServiceSettings().metrics_bind == bind


def test_a_metrics_listener_that_cannot_listen_stops_the_start_naming_the_settings():
    """192.0.2.1 (TEST-NET-1) is no interface of this host. Failed on the old code: None (no metrics, a warning that
    another worker may serve them)."""
    with pytest.raises(RuntimeError, match="STYRKEDJA_METRICS_BIND='192.0.2.1'.*STYRKEDJA_METRICS_PORT"):
        serve_metrics(ServiceSettings(metrics_port=free_port(), metrics_bind="192.0.2.1"))


@pytest.fixture(scope="module")
def lika(infrastructure, token_issuer):
    service = start_service("lika", infrastructure, token_issuer)
    try:
        yield service
    finally:
        service.stop()


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/v1/self-assessments/%70ublished", 405), ("HEAD", "/v1/self-assessments/published", 405),
    ("OPTIONS", "/v1/self-assessments/published", 405), ("DELETE", "/v1/self-assessments/published", 405),
    ("GET", "/v1/self-assessments/published?x=1", 405), ("GET", "/v1/self-assessments/published/", 404),
    ("GET", "/v1/self-assessments//published", 404), ("GET", "/v1/self-assessments/Published", 422),
    ("GET", "/v1/self-assessments/" + "p" * 20_000, 422), ("GET", "/v1/self-assessments/published%2F", 400),
    ("OPTIONS", "/v1/self-assessments/compare", 405)])
def test_a_fixed_path_under_a_templated_route_held_against_hostile_spellings(lika, token_issuer, method, path, status):
    """Held: a 405 names `Allow` (the fixed template's methods), every other answer is problem+json naming a field."""
    answer = httpx.request(method, lika.url + path, headers=auth(token_issuer), timeout=60)
    assert answer.status_code == status, (answer.status_code, answer.text[:300])
    if status == 405:
        assert answer.headers["allow"] in ("POST", "GET, HEAD"), answer.headers
    if method != "HEAD":
        assert answer.json()["errors"][0]["field"], answer.text


def test_a_bad_token_on_an_open_path_is_a_401_naming_authorization(reporting, token_issuer):
    """Held: expired, another audience or issuer, roles of no array, a token past its size, two headers."""
    tokens = [token_issuer.mint(roles=["ops"], ttl_seconds=-120), token_issuer.mint(roles=["ops"], extra={"aud": "x"}),
              token_issuer.mint(roles=["ops"], extra={"iss": "http://elsewhere"}),
              token_issuer.mint(roles=[], extra={"roles": {"ops": True}}),
              token_issuer.mint(roles=[f"x{n}" for n in range(3000)] + ["ops"])]
    for path in ("/readyz", "/healthz"):
        for token in tokens:
            answer = httpx.get(reporting.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            assert answer.status_code == 401, answer.text
            assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("Authorization", "invalid_token")]
        twice = httpx.get(reporting.url + path, timeout=60, headers=[
            ("Authorization", f"Bearer {token_issuer.mint(roles=['ops'])}"), ("Authorization", "Bearer x")])
        assert twice.status_code == 401 and twice.json()["errors"][0]["rule"] == "single_header", twice.text
