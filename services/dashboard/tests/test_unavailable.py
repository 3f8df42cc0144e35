"""When a service is not there for a moment — not started yet, restarting, slow, or its pooled connection just
closed under the request — the dashboard answers something a person can act on: a GET is sent once more on a fresh
connection (`clients.RETRIED`), and what still fails is a 503 page with a Retry-After, saying which service and
when to try again, with a link to the same page. Before, each of these was a 502 "svarar inte just nu" — the
politician's first /kedjan that once got a 502. In-process, against fakes and a real socket server."""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from styrkedja_dashboard.clients import UNREACHABLE_RETRY_AFTER, Reporting, UpstreamError

ORGANISER = "2980"
Upstream = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def dashboard(signed_in_as: Callable[..., TestClient]) -> Callable[..., TestClient]:
    return functools.partial(signed_in_as, role="politician", organiser=ORGANISER)


def _cells(request: httpx.Request) -> httpx.Response:
    level = request.url.params.get("level", "organiser")
    unit = ORGANISER if level == "organiser" else "omr-1"
    return httpx.Response(200, json=[{"level": level, "unit_id": unit, "subject_code": "GRGRMAT01",
                                      "school_year": "2026/27", "term": "HT", "round": 1,
                                      "share_reaching_pass": 0.5, "assessed": 40, "reaching_pass": 20}])


def reporting(fail: Callable[[httpx.Request, int], httpx.Response | None] = lambda request, n: None) -> tuple[
        Upstream, dict[str, int]]:
    """A reporting answering the chain's reads; `fail(request, n)` (n: the how-many-th call of that path) may
    answer instead, or raise. Returns the fake and its calls per path."""
    calls: dict[str, int] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        calls[path] = calls.get(path, 0) + 1
        failed = fail(request, calls[path])
        if failed is not None:
            return failed
        if path == "/v1/results/assessments":
            return _cells(request)
        if path.endswith("/tree"):
            return httpx.Response(200, json=[])
        return httpx.Response(200, json={"columns": [], "rows": []})
    return answer, calls


def _raise(error: Exception) -> httpx.Response:
    raise error


def _unavailable(page: httpx.Response, why: str) -> None:
    assert page.status_code == 503, (page.status_code, page.text[:400])
    assert page.headers["retry-after"] == str(UNREACHABLE_RETRY_AFTER)
    assert page.headers["content-type"].startswith("text/html")
    assert "Tjänsten reporting" in page.text and why in page.text and f"om {UNREACHABLE_RETRY_AFTER} s" in page.text
    assert '<a href="/kedjan">Försök igen</a>' in page.text  # the same page, one click away
    assert "502" not in page.text and "ConnectError" not in page.text


def test_a_pooled_connection_the_service_just_closed_is_tried_once_more(dashboard):
    """Failed on the old code (a 502): the first read on a keep-alive connection reporting had closed as the request
    went out ("Server disconnected without sending a response") failed the whole page."""
    upstream, calls = reporting(lambda request, n: _raise(httpx.RemoteProtocolError(
        "Server disconnected without sending a response.")) if n == 1 else None)
    page = dashboard(upstream).get("/kedjan")
    assert page.status_code == 200, page.text[:400]
    assert calls["/v1/results/assessments"] == 3  # organiser and area level, one of them sent twice


@pytest.mark.parametrize("error", [httpx.ConnectError("[Errno 111] Connection refused"),
                                   httpx.ReadError("connection reset by peer"),
                                   httpx.RemoteProtocolError("Server disconnected without sending a response.")])
def test_a_service_not_up_or_restarting_is_a_503_that_says_so_and_when_to_retry(dashboard, error):
    """Failed on the old code: a 502 without Retry-After ("svarar inte just nu")."""
    upstream, calls = reporting(lambda request, n: _raise(error))
    _unavailable(dashboard(upstream).get("/kedjan"), "går inte att nå just nu")
    assert calls["/v1/results/assessments"] == 4  # each of the two reads tried twice, no more


def test_a_slow_service_is_a_503_and_is_not_asked_twice(dashboard):
    upstream, calls = reporting(lambda request, n: _raise(httpx.ReadTimeout("timed out")))
    _unavailable(dashboard(upstream).get("/kedjan"), "svarade inte i tid")
    assert calls["/v1/results/assessments"] == 2  # a second wait as long as the first: not taken


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_saying_the_service_is_away_is_a_503(dashboard, status):
    upstream, _ = reporting(lambda request, n: httpx.Response(status, text="<html>Bad Gateway</html>"))
    _unavailable(dashboard(upstream).get("/kedjan"), "går inte att nå just nu")


def test_a_post_is_never_sent_twice(dashboard):
    """An acknowledgement whose connection broke mid-way may have been stored: it is not sent again, and the
    person is told the service could not be reached (never a 502)."""
    upstream, calls = reporting(lambda request, n: _raise(httpx.RemoteProtocolError("gone")))
    client = dashboard(upstream, role="organiser_admin")
    session = next(iter(client.app.state.sessions._sessions.values()))  # type: ignore[attr-defined]
    answer = client.post("/larm/00000000-0000-0000-0000-000000000001/kvittera",
                         data={"csrf": session.csrf, "kommentar": "Extra stöd"}, follow_redirects=False)
    assert answer.status_code == 503 and answer.headers["retry-after"] == str(UNREACHABLE_RETRY_AFTER)
    assert calls == {"/v1/alerts/00000000-0000-0000-0000-000000000001/acknowledge": 1}
    assert "Försök igen</a>" not in answer.text  # no link that would look like "send it again"


def test_sign_in_while_the_provider_is_not_up_is_a_503(dashboard):
    """Failed on the old code: a 502 at /logga-in while the identity provider was starting."""
    client = dashboard(lambda request: _raise(httpx.ConnectError("refused")))
    answer = client.get("/logga-in", follow_redirects=False)
    assert answer.status_code == 503 and answer.headers["retry-after"] == str(UNREACHABLE_RETRY_AFTER)
    assert "inloggningen" in answer.text and "går inte att nå just nu" in answer.text


class ClosesEveryOtherRequest:
    """A real HTTP server on a socket: it answers the first request of a connection with keep-alive and closes the
    connection on the second without a word — a server whose keep-alive timer fired as the request arrived (uvicorn
    closes an idle connection after 5 s, exactly httpx's own pool expiry)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.answered = self.dropped = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(connection,), daemon=True).start()

    def _connection(self, connection: socket.socket) -> None:
        with connection:
            reader = connection.makefile("rb")
            self._read_request(reader)
            body = b"[]"
            connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                               + str(len(body)).encode() + b"\r\nconnection: keep-alive\r\n\r\n" + body)
            self.answered += 1
            if self._read_request(reader):  # the second request on this connection: closed unanswered
                self.dropped += 1

    @staticmethod
    def _read_request(reader: Any) -> bool:
        """Reads one request's head; False when the connection ended first."""
        seen = False
        while (line := reader.readline()) not in (b"\r\n", b""):
            seen = True
        return seen and line == b"\r\n"

    def close(self) -> None:
        self.listener.close()


def test_on_a_real_socket_a_closed_keep_alive_connection_is_not_an_error():
    """Failed on the old code: the second read raised `UpstreamError` 502 (httpx.RemoteProtocolError)."""
    server = ClosesEveryOtherRequest()

    async def two_reads() -> list[Any]:
        async with httpx.AsyncClient(timeout=5) as http:
            api = Reporting(http, "reporting", server.url, "token")
            return [await api.alerts(organiser_id=ORGANISER), await api.alerts(organiser_id=ORGANISER)]

    try:
        assert asyncio.run(two_reads()) == [[], []]
        # the second read went out on the kept connection, was dropped, and was answered on a fresh one
        assert (server.answered, server.dropped) == (2, 1)
    finally:
        server.close()


def test_an_unreachable_service_is_an_upstream_error_naming_why():
    async def read() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: _raise(httpx.ConnectError("x")))) as http:
            await Reporting(http, "reporting", "http://reporting.test", "token").alerts()

    with pytest.raises(UpstreamError) as raised:
        asyncio.run(read())
    assert (raised.value.status, raised.value.why, raised.value.retry_after) == (503, "unreachable",
                                                                               UNREACHABLE_RETRY_AFTER)


def test_a_figure_that_only_adds_to_the_chain_is_left_out_and_named_when_its_service_is_away(dashboard):
    """Failed on the old code: a busy trend read (503) made the whole first page a 503 (and unreachable, a 502)."""
    upstream, _ = reporting(lambda request, n: _raise(httpx.ConnectError("refused"))
                            if request.url.path in ("/v1/figures/trend", "/v1/figures/coverage") else None)
    page = dashboard(upstream).get("/kedjan")
    assert page.status_code == 200, page.text[:400]
    assert '<p class="notice" role="status">Kunde inte hämtas just nu: trend, täckning.' in page.text
    assert "50,0\u00a0%" in page.text  # the shares themselves are there


def test_the_unit_page_says_which_section_could_not_be_fetched_not_that_it_is_not_allowed(dashboard):
    def away(request: httpx.Request, n: int) -> httpx.Response | None:
        if request.url.path == "/v1/figures/history":
            return httpx.Response(503, headers={"Retry-After": "2"}, json={"detail": "busy"})
        if request.url.path == "/v1/results/forecasts":
            return httpx.Response(200, json=[])
        if request.url.path.endswith("/students-at-risk") or request.url.path == "/v1/alerts":
            return httpx.Response(200, json=[])
        return None
    upstream, _ = reporting(away)
    page = dashboard(upstream, role="organiser_admin").get("/kedjan?enhet=12345678")
    assert page.status_code == 200, page.text[:400]
    assert "Kunde inte hämtas just nu: terminshistorik." in page.text
    assert "<strong>Terminshistorik:</strong> kunde inte hämtas just nu" in page.text
    assert "<strong>Terminshistorik:</strong> du har inte behörighet" not in page.text


def test_the_chains_own_shares_unavailable_is_the_503_page(dashboard):
    upstream, _ = reporting(lambda request, n: httpx.Response(503, headers={"Retry-After": "4"}, json={"detail": "x"})
                            if request.url.path == "/v1/results/assessments" else None)
    page = dashboard(upstream).get("/kedjan?niva=area")
    assert page.status_code == 503 and page.headers["retry-after"] == "4"
    assert "upptagen just nu" in page.text and '<a href="/kedjan?niva=area">Försök igen</a>' in page.text


def test_the_quality_report_names_the_sections_it_could_not_fetch(dashboard):
    """Failed on the old code: a busy trend (503) or an unreachable LIKA compilation made the whole report a 503
    (or a 502)."""
    def away(request: httpx.Request, n: int) -> httpx.Response | None:
        if request.url.path == "/v1/figures/trend":
            return httpx.Response(503, headers={"Retry-After": "2"}, json={"detail": "busy"})
        if request.url.path == "/v1/lika/school-units":
            return _raise(httpx.ConnectError("refused"))
        if request.url.path in ("/v1/alerts",):
            return httpx.Response(200, json=[])
        if request.url.path.startswith(("/v1/compliance/", "/v1/support/")):
            return httpx.Response(404, json={"detail": "none"})
        return None
    upstream, _ = reporting(away)
    page = dashboard(upstream, role="organiser_admin").get("/rapport")
    assert page.status_code == 200, page.text[:400]
    assert "Kunde inte hämtas just nu: förändring, lika." in page.text
    assert "<strong>LIKA:</strong> kunde inte hämtas just nu" in page.text
    assert "<strong>Förändring mot terminen före:</strong> kunde inte hämtas just nu" in page.text
