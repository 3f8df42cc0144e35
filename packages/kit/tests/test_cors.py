"""CORS decided from the allow-lists by one pure rule (`security.cors_refusals`), as Starlette's `CORSMiddleware`
decides it, and hostile preflights (huge, control characters, many headers, `null`, lines sent twice) never a 500
and never an origin reflected that is not listed (round 21).

Failed on the old code: `cors_refusals` and `CorsPolicy` did not exist (the refusals were parsed back out of
Starlette's plain-text answer); `Access-Control-Request-Headers: authorization` then `...: x-evil` on two lines was
a 200 (Starlette reads the first line alone), `Origin` twice with different values a 200 for the first; `null` and
`https://Skola.example/` were taken as listed origins (never matched as a browser sends them, or open to all)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware

from styrkedja_kit.app import RequestGuard
from styrkedja_kit.problems import install_problem_handlers
from styrkedja_kit.security import CorsPolicy, cors_refusals, install_cors, install_security
from styrkedja_kit.settings import ServiceSettings

LISTED = "https://app.example"
ORIGINS = st.sampled_from([LISTED, "https://other.example", "null", "*", "https://app.example:8443",
                           "http://app.example", "HTTPS://APP.EXAMPLE"])
METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "get", "*", "QUERY"])
HEADER_NAMES = st.sampled_from(["Authorization", "Content-Type", "accept", "X-Evil", "x-requested-with", "*",
                                "Accept-Language", " authorization ", "", "AUTHORIZATION", "\x85authorization"])
#: any text a header line can carry (ASGI headers are bytes; Starlette reads them as latin-1)
LATIN1 = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=40)


def _starlette_failures(policy: CorsPolicy, request: dict[str, str]) -> list[str]:
    """What Starlette's own middleware refuses the preflight for, read from its plain-text answer."""
    middleware = CORSMiddleware(None,  # type: ignore[arg-type]  # never called: only its preflight decision
                                allow_origins=policy.origins, allow_methods=policy.methods,
                                allow_headers=policy.headers, allow_private_network=policy.private_network)
    answer = middleware.preflight_response(Headers(headers=request))
    said = bytes(answer.body).decode("latin-1")
    return [] if answer.status_code == 200 else said.removeprefix("Disallowed CORS ").split(", ")


@settings(max_examples=400, deadline=None)
@given(origins=st.lists(ORIGINS, max_size=3), methods=st.lists(METHODS, max_size=4),
       allowed_headers=st.lists(HEADER_NAMES, max_size=3), private_network=st.booleans(),
       origin=st.one_of(ORIGINS, LATIN1), method=st.one_of(METHODS, LATIN1),
       requested=st.one_of(st.none(), LATIN1, st.lists(HEADER_NAMES, max_size=4).map(",".join)),
       private=st.one_of(st.none(), st.sampled_from(["true", ""])))
def test_the_pure_rule_decides_as_starlette(origins, methods, allowed_headers, private_network, origin, method,
                                            requested, private):
    policy = CorsPolicy(tuple(origins), tuple(methods), tuple(allowed_headers), private_network)
    request = {"origin": origin, "access-control-request-method": method}
    if requested is not None:
        request["access-control-request-headers"] = requested
    if private is not None:
        request["access-control-request-private-network"] = private
    assert cors_refusals(policy, origin, method, requested, private) == _starlette_failures(policy, request)


def test_the_rule_by_example():
    policy = CorsPolicy((LISTED,))
    assert cors_refusals(policy, LISTED, "GET", "authorization, content-type") == []
    assert cors_refusals(policy, "null", "TRACE", "x-evil", "true") == ["origin", "method", "headers",
                                                                      "private-network"]
    assert cors_refusals(policy, LISTED + "/", "GET") == ["origin"]  # exact: no path, no case folding
    assert cors_refusals(CorsPolicy(("*",)), "null", "GET") == []


# -- through the middleware, every layer of a service in front of it ---------------------------------------------

def _app() -> Any:
    app = FastAPI()
    install_problem_handlers(app)
    settings = ServiceSettings(cors_allow_origins=[LISTED])
    install_security(app, settings, require_token=False)
    app.add_middleware(RequestGuard, max_body_bytes=1024)
    install_cors(app, settings)  # outside the guard, as `create_service_app` adds it

    @app.get("/v1/things")
    async def things() -> dict[str, str]:
        return {"ok": "yes"}

    return app


APP = _app()


async def _call(headers: list[tuple[bytes, bytes]], method: str = "OPTIONS") -> tuple[int, dict[bytes, bytes], Any]:
    scope = {"type": "http", "method": method, "path": "/v1/things", "raw_path": b"/v1/things", "query_string": b"",
             "headers": headers, "http_version": "1.1", "scheme": "http", "server": ("svc", 80),
             "client": ("c", 1), "root_path": "", "asgi": {"version": "3.0"}}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await APP(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], dict(sent[0]["headers"]), json.loads(body) if body.startswith(b"{") else body


def _rules(body: Any) -> list[tuple[str, str]]:
    return [(e["field"], e["rule"]) for e in body["errors"]]


HOSTILE = st.one_of(st.binary(max_size=300), st.sampled_from([
    b"null", b"https://app.example\r\nx-injected: 1", b"https://app.example\x00", b"\xff\xfe" * 4000,
    b"https://app.example " , b"https://app.example, https://evil.example", b"a" * 70_000, b"https://APP.example"]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(origin=HOSTILE, method=st.one_of(st.sampled_from([b"GET", b"POST"]), st.binary(max_size=200)),
       requested=st.one_of(st.none(), st.binary(max_size=200), st.just(b"authorization," * 20_000)),
       simple=st.booleans())
def test_hostile_preflights_are_never_a_500_and_never_reflect_an_origin_not_listed(origin, method, requested,
                                                                                     simple):
    headers = [(b"origin", origin), (b"access-control-request-method", method)]
    if requested is not None:
        headers.append((b"access-control-request-headers", requested))
    status, answer, body = asyncio.run(_call(headers, "GET" if simple else "OPTIONS"))
    assert status < 500
    assert answer.get(b"access-control-allow-origin") in (None, LISTED.encode())
    if b"access-control-allow-origin" in answer:
        assert origin == LISTED.encode()
    if status == 400 and not simple:
        assert body["errors"] and all(e["rule"].startswith("cors_") for e in body["errors"])


def test_lines_sent_twice_are_judged_whole():
    # the requested headers on two lines are one list: the second line's header is judged too
    status, answer, body = asyncio.run(_call([
        (b"origin", LISTED.encode()), (b"access-control-request-method", b"GET"),
        (b"access-control-request-headers", b"authorization"), (b"access-control-request-headers", b"x-evil")]))
    assert status == 400 and _rules(body) == [("access-control-request-headers", "cors_headers")]
    # two origins: refused, whichever a proxy in front would have read
    for origins in ([LISTED, "https://evil.example"], ["https://evil.example", LISTED]):
        for method in ("OPTIONS", "GET"):
            status, answer, body = asyncio.run(_call([
                *[(b"origin", o.encode()) for o in origins], (b"access-control-request-method", b"GET")], method))
            assert status == 400 and _rules(body) == [("origin", "single_header")], (origins, method)
            assert b"access-control-allow-origin" not in answer
    status, answer, _ = asyncio.run(_call([(b"origin", LISTED.encode()), (b"access-control-request-method", b"GET")]))
    assert status == 200 and answer[b"access-control-allow-origin"] == LISTED.encode()


@pytest.mark.parametrize("origin", ["null", "https://Skola.example", "https://skola.example/", "skola.example",
                                    "https://skola.example/path", "https://skola.example\n"])
def test_the_settings_take_only_origins_as_a_browser_sends_them(origin):
    with pytest.raises(ValidationError, match="cors_allow_origins"):
        ServiceSettings(cors_allow_origins=[origin])
    for good in ("https://skola.example", "http://127.0.0.1:8100", "http://[::1]:8100", "*"):
        assert ServiceSettings(cors_allow_origins=[good]).cors_allow_origins == [good]


async def test_what_the_guard_refuses_carries_the_cors_headers_of_an_allowed_origin() -> None:
    """Round 25. Failed on the old code (CORS inside the guard): a body on a GET from an allowed origin's browser was a
    400 without `Access-Control-Allow-Origin`, which the browser shows its page as a CORS failure, the problem unread."""
    scope = {"type": "http", "method": "GET", "path": "/v1/things", "raw_path": b"/v1/things", "query_string": b"",
             "headers": [(b"origin", LISTED.encode()), (b"content-length", b"2"), (b"content-type", b"application/json")],
             "http_version": "1.1", "scheme": "http", "server": ("svc", 80), "client": ("c", 1), "root_path": "",
             "asgi": {"version": "3.0"}}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await APP(scope, receive, send)
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 400 and headers[b"access-control-allow-origin"] == LISTED.encode(), headers
