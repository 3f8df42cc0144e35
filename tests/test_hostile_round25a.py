"""Hostile inputs, round 25 (a): the HTTP protocol of the four services as a generic client or fuzzer sees it — every
answer's headers, whoever gives it, and what a refusal names.

Found and fixed (each test failed on the old code, as said at it):
- The kit's `HardeningMiddleware` sat inside its `RequestGuard` and `OverloadGuard`, so their own refusals (a body on a
  GET, a body over the limit, a missing or other Content-Type, a byte order mark, UTF-16, a Content-Encoding, an
  encoded `/` in the path, an overload's 503) went out without `Cache-Control: no-store`, nosniff, no-referrer or the
  frame rules, on every operation of every service. Now it is the outermost middleware (the kit's
  `create_service_app`; packages/kit/tests/test_auth_tokens.py).
- What the HTTP server refuses by itself (a malformed request line, an unknown method, a control byte in a header, a
  head over the limit: the kit's `server.problem_bytes`) carried nosniff and no-store only; now every header of
  `security.SECURITY_HEADERS` (packages/kit/tests/test_server_and_dates.py).
- A body sent to a POST that reads none (reporting's `POST /v1/admin/alerts/freshness-sweep` and `.../reevaluate`,
  whose work their query says) was read by no one: `{"at": "2026-01-01T00:00:00Z"}` swept as of now, answered 200.
  Round 18 refused a body on a GET, HEAD or DELETE by the method alone (the `RequestGuard` runs before routing); now
  any operation documenting no body refuses one, a 400 naming `body` and `no_body` (the kit's `reads_no_body`).
- A query parameter without a name (`?=x`, `?=`) was refused as `unknown_parameter` naming the field `body`, on every
  operation of every service: a client looks for the fault in a body it may not have sent. Now `query` (the kit's
  `problems`: a location with nothing after where it was sent is named by where).
- An HTTP/1.1 request without a Host header, or with two (`Host: a` and `Host: b`), was answered 200 under the
  services' parser (httptools), where RFC 9112 §3.2 has a 400 and the kit's h11 protocol refused both (as plain
  `http_syntax`): a proxy in front routing by one Host while the app read the other. Now a 400 naming `host` and
  `single_host` under either parser (the kit's `server.ONE_HOST`); HTTP/1.0 needs none.
- A body of valid JSON nested 10,000 deep, or holding an integer of 5,000 digits, was a 400 titled "There was an
  error parsing the body", named `json_invalid` "the body is not JSON in UTF-8": false, and nothing a client could
  act on. Now a 422 naming `body` and `max_depth` or `max_digits` (the kit's `json_refusal`, before any route parses).
- CORS sat inside the kit's guards too: their refusals (415, 413, 408, a body on a GET, an overload's 503) to a browser
  app of an allowed origin came without `Access-Control-Allow-Origin`, so the browser hid the problem behind a CORS
  failure. Now CORS wraps the guards (the kit's `install_cors`; `Origin` on two lines is refused by it, as round 21
  had the guard do) (packages/kit/tests/test_auth_tokens.py, test_cors.py).
- No response header was exposed to such an app (`Access-Control-Expose-Headers`): it could not read a 503's or 429's
  `Retry-After`, a 401's challenge, a 405's `Allow`, a file's name or reporting's `ETag` and freshness headers, none of
  them CORS-safelisted. Now `security.CORS_EXPOSED` (packages/kit/tests/test_auth_tokens.py).
- A body of bytes that are no UTF-8 (Latin-1 `Åsa`, binary) was a 400 `json_invalid` ("There was an error parsing the
  body"), where any other body that is no JSON is a 422 `json_invalid` and UTF-16 or a byte order mark a 415
  `utf8_charset`: one rule, two statuses, and the charset rule not named. Now a 415 `utf8_charset` naming where the
  first such byte is (the kit's `json_refusal`).
- FastAPI's own pages (`/openapi.json`, `/docs`, `/redoc`: no `APIRoute`s, so the app-wide rules never ran) answered
  200 to an unknown query parameter and to an `Accept` admitting none of their types, where every operation answers
  422 `unknown_parameter` and 406 `not_acceptable`. Now the same rules at each page (the kit's
  `judge_framework_pages`; Swagger UI's OAuth2 redirect, which an identity provider calls with its own query, aside).
- A problem's `instance` (a URI reference, RFC 9457 §3.1.5) repeated a path sent as `//evil.example/x`: resolved
  against the service's URL by a client that links it, it names another host. Now left out of such a problem.
"""

from __future__ import annotations

import gzip
from typing import Any
from urllib.parse import urlsplit

import pytest
from inprocess import auth
from test_hostile_http import Attack, body_of, fill, operations, raw_request
from test_hostile_round3 import _exchange, _problem
from test_hostile_round4 import protocol_server  # noqa: F401  (the fixture: uvicorn under each of the kit's parsers)

from styrkedja_kit.inputs import json_refusal
from styrkedja_kit.problems import problem_response, validation_errors

#: what the kit sets on every answer (`styrkedja_kit.security`), lower-cased as compared
HARDENING = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
             "content-security-policy": "frame-ancestors 'none'", "x-frame-options": "deny",
             "cache-control": "no-store"}


def _unhardened(headers: Any) -> list[str]:
    return [name for name, value in HARDENING.items() if value not in str(headers.get(name, "")).lower()]


#: bodies and headers the kit's RequestGuard refuses before any route reads them
GUARD_REFUSALS: list[tuple[str, bytes, dict[str, str]]] = [
    ("no content-type", b"{}", {}),
    ("text/plain", b"{}", {"content-type": "text/plain"}),
    ("latin-1", b"{}", {"content-type": "application/json; charset=latin-1"}),
    ("a byte order mark", b"\xef\xbb\xbf{}", {"content-type": "application/json"}),
    ("utf-16", "{}".encode("utf-16"), {"content-type": "application/json"}),
    ("gzip", gzip.compress(b"{}"), {"content-type": "application/json", "content-encoding": "gzip"}),
    ("an unknown coding", b"{}", {"content-type": "application/json", "content-encoding": "x-unknown"}),
    ("multipart", b"--x--", {"content-type": "multipart/form-data; boundary=x"}),
    ("over the limit", b'{"a": "' + b"x" * (5 * 1024 * 1024) + b'"}', {"content-type": "application/json"}),
]


@pytest.mark.integration
@pytest.mark.postgres_only
def test_what_the_kit_refuses_before_any_route_carries_the_security_headers_on_every_operation(running, token_issuer):
    """Failed on the old code: every one of these answers (400, 413, 415) came without any of `HARDENING`."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    try:
        for method, path, operation in operations(attack):
            url = fill(path)
            sent = GUARD_REFUSALS if body_of(operation) else [("a body on a " + method, b"{}",
                                                                {"content-type": "application/json"})]
            for what, content, headers in sent:
                got = attack.client.request(method, url, content=content, headers=headers)
                attack.judge(f"{method} {path} {what}", got, refused=True)
                if _unhardened(got.headers):
                    attack.wrong.append(f"{method} {path} {what}: {got.status_code} without {_unhardened(got.headers)}")
        got = attack.client.get("/v1/x%2Fy")
        if got.status_code != 400 or _unhardened(got.headers):
            attack.wrong.append(f"%2F: {got.status_code} without {_unhardened(got.headers)}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
        assert attack.sent >= 10
    finally:
        attack.client.close()


@pytest.mark.integration
@pytest.mark.postgres_only
def test_what_the_server_refuses_by_itself_carries_the_security_headers(running):
    """Failed on the old code: nosniff and no-store only (no frame rules, no no-referrer)."""
    name, service = running
    host = urlsplit(service.url).netloc.encode()
    for data in [b"FOO /healthz HTTP/1.1\r\nHost: " + host + b"\r\n\r\n",
                 b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\nX-A: a\x01b\r\n\r\n",
                 b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\n" + b"X-A: a\r\n" * 200 + b"\r\n",
                 b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n"]:
        answer = raw_request(service.url, data)
        head, _, _ = answer.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        assert status.split(b" ")[1] in (b"400", b"431"), (name, data[:40], status)
        headers = dict(line.decode().lower().split(": ", 1) for line in head.split(b"\r\n")[1:])
        assert not _unhardened(headers), (name, data[:40], _unhardened(headers))


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_body_sent_to_an_operation_that_reads_none_is_a_400_naming_it(running, token_issuer):
    """Failed on the old code: reporting's sweeps answered 200, the body read by no one (the other services have no
    such operation: every POST, PUT and PATCH of theirs reads a body)."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    try:
        bodiless = [(method, path) for method, path, operation in operations(attack)
                    if method in ("POST", "PUT", "PATCH") and not body_of(operation)]
        for method, path in bodiless:
            for content, headers in [(b'{"at": "2026-01-01T00:00:00Z"}', {"content-type": "application/json"}),
                                     (b"{}", {"content-type": "application/json"}),
                                     (iter([b"{", b"}"]), {"content-type": "application/json"})]:
                got = attack.client.request(method, fill(path), content=content, headers=headers)
                errors = got.json().get("errors") or [{}]
                if (got.status_code, errors[0].get("field"), errors[0].get("rule")) != (400, "body", "no_body"):
                    attack.wrong.append(f"{method} {path}: {got.status_code} {got.text[:160]!r}")
        assert not attack.wrong, "\n".join(attack.wrong)
        assert bodiless or name != "reporting"
    finally:
        attack.client.close()


def test_a_location_naming_only_where_it_was_sent_is_named_by_where() -> None:
    """Failed on the old code: `body` for the nameless query parameter."""
    named = validation_errors([{"type": "unknown_parameter", "loc": ("query", ""), "msg": "not a parameter"}])
    assert named[0]["field"] == "query"
    assert validation_errors([{"type": "missing", "loc": ("body",), "msg": "Field required"}])[0]["field"] == "body"
    assert validation_errors([{"type": "x", "loc": ("query", "year"), "msg": "m"}])[0]["field"] == "year"


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_query_parameter_without_a_name_is_named_as_the_query_on_every_operation(running, token_issuer):
    """Failed on the old code: a 422 naming `body` on every operation."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    try:
        for method, path, operation in operations(attack):
            body = {"content": b"{}", "headers": {"content-type": "application/json"}} if body_of(operation) else {}
            for query in ("=x", "=", "=19121212-1212"):
                got = attack.client.request(method, f"{fill(path)}?{query}", **body)
                attack.judge(f"{method} {path}?{query}", got, refused=True, sent_pin="1212" in query)
                fields = [e.get("field") for e in (got.json().get("errors") or [])] if got.status_code >= 400 else []
                if (got.status_code, fields[:1]) != (422, ["query"]):
                    attack.wrong.append(f"{method} {path}?{query}: {got.status_code} {fields}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
    finally:
        attack.client.close()


@pytest.mark.parametrize("head", [b"GET / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                                  b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
                                  b"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n"])
def test_an_http11_request_without_exactly_one_host_is_a_400_naming_it_under_either_parser(
        protocol_server, head):  # noqa: F811
    """Failed on the old code: 200 under httptools, `request`/`http_syntax` under h11."""
    assert _problem(_exchange(protocol_server, [head])) == (400, "host", "single_host")


def test_one_host_or_http10_without_one_passes_either_parser(protocol_server):  # noqa: F811
    for head in [b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", b"GET / HTTP/1.0\r\n\r\n",
                 b"GET / HTTP/1.1\r\nhOsT: a\r\nConnection: close\r\n\r\n"]:
        assert _exchange(protocol_server, [head]).startswith(b"HTTP/1.1 200"), head
    two = _exchange(protocol_server, [b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n"
                                      b"Connection: close\r\n\r\n"])
    assert two.count(b"HTTP/1.1 200") == 2, two  # the count starts again with each request on a connection
    # a chunked body's trailer fields are no request's headers: a trailer `Host` does not count for the next request
    trailer = _exchange(protocol_server, [b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n"
                                          b"0\r\nHost: b\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"])
    assert trailer.count(b"HTTP/1.1 200") == 2, trailer


#: valid JSON no parser of the services reads: nested beyond its reach, an integer beyond Python's digits
UNREADABLE_JSON = [(b"[" * 10_000 + b"]" * 10_000, "max_depth"), (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "max_depth"),
                   (b'{"items": [{"year": ' + b"9" * 5000 + b"}]}", "max_digits"),
                   (b'{"revision": -' + b"1" * 10_000 + b"}", "max_digits"), (b"[" * 100_000, "max_depth")]


def test_json_beyond_the_parsers_reach_is_named_by_its_rule_not_as_no_json() -> None:
    """Failed on the old code: None (left to the route's parser, which called it not JSON)."""
    for body, rule in UNREADABLE_JSON:
        assert json_refusal(body)[:2] == ("body", rule), body[:30]  # type: ignore[index]
    for body in (b'{"a": 1,}', b'{"a": 1} x', b"[NaN, " + b"[" * 100_000):  # no JSON: the parser names it
        assert json_refusal(body) is None, body[:30]


@pytest.mark.integration
@pytest.mark.postgres_only
def test_json_beyond_the_parsers_reach_is_a_422_naming_its_rule_on_every_operation(running, token_issuer):
    """Failed on the old code: 400 `json_invalid`, "the body is not JSON in UTF-8", on every operation with a body."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    try:
        for method, path, operation in operations(attack):
            if not body_of(operation):
                continue
            for body, rule in UNREADABLE_JSON:
                got = attack.client.request(method, fill(path), content=body,
                                            headers={"content-type": "application/json"})
                attack.judge(f"{method} {path} {body[:20]!r}", got, refused=True)
                errors = got.json().get("errors") or [{}]
                if (got.status_code, errors[0].get("field"), errors[0].get("rule")) != (422, "body", rule):
                    attack.wrong.append(f"{method} {path} {body[:20]!r}: {got.status_code} {got.text[:160]!r}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
    finally:
        attack.client.close()


def test_an_instance_that_would_resolve_to_another_host_is_left_out() -> None:
    """Failed on the old code: `"instance": "//evil.example/x"`."""
    for path in ("//evil.example/x", "///evil.example", "/\\evil.example/x", "\\\\evil.example"):
        assert b"evil" not in problem_response(404, "Not Found", "Not Found", instance=path).body, path
    assert b'"instance":"/v1/x"' in problem_response(404, "Not Found", "Not Found", instance="/v1/x").body


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_path_naming_another_host_is_not_repeated_as_the_instance(running):
    """Failed on the old code: every service's 404 (and 400) repeated it as its `instance`."""
    name, service = running
    host = urlsplit(service.url).netloc.encode()
    for target in (b"//evil.example/x", b"//evil.example/v1/x%2Fy", b"/%2F/evil.example"):
        answer = raw_request(service.url, b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        assert answer.startswith((b"HTTP/1.1 40",)), (name, target, answer[:100])
        assert b"evil.example" not in answer.partition(b"\r\n\r\n")[2], (name, target, answer[-300:])


NOT_UTF8 = [('{"comment": "Åsa"}'.encode("latin-1"), 13), (b"\x1f\x8b\x08\x00\xff", 1), (b'{"a": "\xc3"}', 7)]


def test_a_body_of_bytes_that_are_no_utf8_is_named_by_the_charset_rule() -> None:
    """Failed on the old code: None (left to the parser: a 400 `json_invalid`)."""
    for body, at in NOT_UTF8:
        where, rule, message = json_refusal(body)  # type: ignore[misc]
        assert (where, rule) == ("body", "utf8_charset") and f"byte {at} " in message, (body, message)


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_body_of_bytes_that_are_no_utf8_is_a_415_naming_the_charset_rule_on_every_operation(running, token_issuer):
    """Failed on the old code: 400 `json_invalid` on every operation with a body."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    try:
        for method, path, operation in operations(attack):
            if not body_of(operation):
                continue
            for body, _ in NOT_UTF8:
                got = attack.client.request(method, fill(path), content=body,
                                            headers={"content-type": "application/json"})
                attack.judge(f"{method} {path} {body[:20]!r}", got, refused=True)
                errors = got.json().get("errors") or [{}]
                if (got.status_code, errors[0].get("field"), errors[0].get("rule")) != (415, "body", "utf8_charset"):
                    attack.wrong.append(f"{method} {path} {body[:20]!r}: {got.status_code} {got.text[:160]!r}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
    finally:
        attack.client.close()


@pytest.mark.integration
@pytest.mark.postgres_only
def test_the_frameworks_own_pages_keep_the_rules_every_operation_keeps(running, token_issuer):
    """Failed on the old code: 200 for each of the refused requests below."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    try:
        for page, other in (("/openapi.json", "text/html"), ("/docs", "application/json"), ("/redoc", "text/csv")):
            assert attack.client.get(page).status_code == 200, page
            assert attack.client.get(page, headers={"accept": "*/*"}).status_code == 200, page
            for query, field in (("?x=1", "x"), ("?=", "query"), ("?access_token=abc", "access_token")):
                got = attack.client.get(page + query)
                attack.judge(f"{page}{query}", got, refused=True)
                if (got.status_code, (got.json().get("errors") or [{}])[0].get("field")) != (422, field):
                    attack.wrong.append(f"{page}{query}: {got.status_code}")
            got = attack.client.get(page, headers={"accept": other})
            attack.judge(f"{page} accept {other}", got, refused=True)
            if (got.status_code, (got.json().get("errors") or [{}])[0].get("rule")) != (406, "not_acceptable"):
                attack.wrong.append(f"{page} accept {other}: {got.status_code}")
        assert not attack.wrong, "\n".join(attack.wrong)
    finally:
        attack.client.close()
