"""Hostile input, round 16: query strings, path parameters and numbers as fuzzers send them, at the door of the four
services and the dashboard.

- An integer parameter was read by pydantic's lax mode: `1_0` was 10, `+1`, ` 1`, `1 `, `1.0` and `01` were 1, `-0`
  was 0 — each answered as if asked right. Now ASCII digits only, a `-` only where the least value is negative
  (`integer_format`), on every query and path parameter of every operation (the kit's `parameters`).
- A parameter given twice (`?year=7&year=8`) was read by its last value, while a proxy, cache or audit reading the
  first saw another request: now `repeated`, unless it is a list (`split`). An unknown query parameter (`?yaer=7`)
  was dropped, the answer covering every year: now `unknown_parameter` naming it (the dashboard's pages ignore
  unknown ones: browsers and the identity provider add theirs; none of the services' clients sends one).
- `%ff` in a query became U+FFFD and raw non-ASCII bytes were read as Latin-1: now `utf8` / `percent_encoding`.
- A path segment `..` or `.` (as sent or `%2e`) reached the route as an id (`unit_id=..`), which a proxy in front
  resolves to another path; `%ff` likewise: now a 400 naming `path` and the rule. A NUL in a path parameter is a
  422 naming the parameter (`no_control_characters`), also where its type checks no text (LIKA's `version`).
- `NaN`, `Infinity` and `-Infinity` in a JSON body (Python's `json` and pydantic take them) were "not a valid integer"
  where typed and a float where not: now `non_finite_number` naming where, before any route reads the body.
- The OpenAPI documents say it: every operation documents 422 and 400 (an Accept weight that is no qvalue was an
  undocumented 400 on operations without a body or path parameter), each parameter its format and "given once".
- Property-based, on all four documents: operations with hostile query names and values, path values and headers
  never get a 5xx, a traceback, an internal name, an undocumented status or an error that is not problem+json
  naming a field and a rule. It found reporting's unit and alert 404s naming none (now `unit_id`/`alert_id`
  `not_found`; a route's 4xx naming nothing names `request` and its status's rule, in the kit).
- What the clients send is held to the documents: every read of the dashboard's clients and its downloads, and the
  read bench (whose common parameters rode along on reads that do not take them).

Each test failed on the code before its fix (said at each), but the fuzz, which holds what is right.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inprocess import ORGANISER, RunningService, auth

from styrkedja_contracts.identifiers import contains_personal_identity_number

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

_PARAM = re.compile(r"\{([^}]+)\}")
UUID = "00000000-0000-4000-8000-000000000001"
#: plausible values of the parameters the operations require (the figures name a term)
PLAUSIBLE = {"organiser_id": ORGANISER, "school_unit_code": "29990011", "round": "1", "unit_id": ORGANISER,
             "version": "2026.1", "level": "organiser", "school_year": "2026/27", "term": "HT", "first": UUID,
             "second": "00000000-0000-4000-8000-000000000002"}
LAX_INTEGERS = ["1_0", "+1", " 1", "1 ", "1.0", "01", "-0", "\uff11", "1e0"]
#: what no answer may hold: a traceback, the framework's or the database driver's names
INTERNALS = re.compile(r"Traceback|File \"|sqlalchemy|asyncpg|psycopg|pydantic_core|starlette\.|/site-packages/")


# ------------------------------------------------------------------ a client that sends what it is given


def raw(url: str, headers: dict[str, str], method: str, target: bytes, body: bytes | None = None,
        extra: list[tuple[bytes, bytes]] | None = None) -> tuple[int, dict[str, str], str]:
    """One request with `target` byte for byte as given (httpx would resolve `..` and encode what it sends)."""
    parts = urlsplit(url)
    lines = [method.encode() + b" " + target + b" HTTP/1.1", f"Host: {parts.hostname}:{parts.port}".encode(),
             b"Connection: close", *(f"{k}: {v}".encode() for k, v in headers.items()),
             *(k + b": " + v for k, v in extra or [])]
    if body is not None:
        lines += [b"Content-Type: application/json", b"Content-Length: " + str(len(body)).encode()]
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=30) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + (body or b""))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    answer = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    if answer.get("transfer-encoding") == "chunked":
        whole, rest_ = b"", rest
        while rest_:
            size, _, rest_ = rest_.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            whole, rest_ = whole + rest_[:n], rest_[n + 2:]
        rest = whole
    return int(status_line.split()[1]), answer, rest.decode("utf-8", "replace")


def problem(status: int, answer: dict[str, str], text: str) -> list[tuple[str, str]]:
    assert answer.get("content-type") == "application/problem+json", (status, answer.get("content-type"), text[:300])
    return [(e["field"], e["rule"]) for e in json.loads(text).get("errors") or []]


def document(service: RunningService, issuer: Any) -> dict[str, Any]:
    return httpx.get(f"{service.url}/openapi.json", headers=auth(issuer)).json()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        if path == "/readyz":  # asks the broker every time (slow); its parameters are none
            continue
        for method, operation in item.items():
            if isinstance(operation, dict) and not method.startswith("x-"):
                yield method.upper(), path, operation


def _schema_types(parameter: dict[str, Any]) -> set[str]:
    schema = parameter.get("schema", {})
    return {schema.get("type"), *(s.get("type") for s in schema.get("anyOf", []))} - {None}


def target(path: str, query: list[tuple[str, str]] | None = None, path_values: dict[str, str] | None = None) -> bytes:
    filled = _PARAM.sub(lambda m: quote((path_values or {}).get(m.group(1), PLAUSIBLE.get(m.group(1), UUID)),
                                        safe=""), path)
    pairs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query or [])
    return (filled + ("?" + pairs if pairs else "")).encode()


def required_query(operation: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["name"], PLAUSIBLE.get(p["name"], "x")) for p in operation.get("parameters", [])
            if p["in"] == "query" and p.get("required")]


# ------------------------------------------------------------------ the rules on every operation


def test_lax_integers_in_every_query_and_path_parameter_are_refused_naming_it(running, token_issuer):
    """Failed on the old code: `+1`, ` 1`, `1 `, `1.0`, `01`, `-0` were answered as 1 (or 0), `1_0` as 10."""
    name, service = running
    headers, wrong, checked = auth(token_issuer), [], 0
    for method, path, operation in operations(document(service, token_issuer)):
        base = required_query(operation)
        for parameter in operation.get("parameters", []):
            if "integer" not in _schema_types(parameter):
                continue
            for value in LAX_INTEGERS:
                if parameter["in"] == "query":
                    sent = target(path, [*[(k, v) for k, v in base if k != parameter["name"]],
                                         (parameter["name"], value)])
                else:
                    sent = target(path, base, {parameter["name"]: value})
                status, answer, text = raw(service.url, headers, method, sent)
                checked += 1
                if status != 422 or (parameter["name"], "integer_format") not in problem(status, answer, text):
                    wrong.append(f"{method} {sent.decode()}: {status} {text[:200]}")
    assert checked or name in ("assessment", "forecast"), f"{name}: no integer parameter"  # those two have none
    assert not wrong, f"{name}:\n" + "\n".join(wrong[:20])


def test_a_parameter_given_twice_is_refused_unless_it_is_a_list(running, token_issuer):
    """Failed on the old code: every one was read by its last value."""
    name, service = running
    headers, wrong = auth(token_issuer), []
    for method, path, operation in operations(document(service, token_issuer)):
        base = required_query(operation)
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            value = dict(base).get(parameter["name"], PLAUSIBLE.get(parameter["name"], "1"))
            sent = target(path, [*base, (parameter["name"], value), (parameter["name"], value)])
            status, answer, text = raw(service.url, headers, method, sent)
            errors = problem(status, answer, text) if status >= 400 else []
            if "array" in _schema_types(parameter):
                if (parameter["name"], "repeated") in errors:
                    wrong.append(f"{method} {sent.decode()}: a list refused as repeated")
            elif status != 422 or (parameter["name"], "repeated") not in errors:
                wrong.append(f"{method} {sent.decode()}: {status} {text[:200]}")
    assert not wrong, f"{name}:\n" + "\n".join(wrong[:20])


def test_an_unknown_query_parameter_is_refused_naming_it_on_every_operation(running, token_issuer):
    """Failed on the old code: ignored everywhere (`?yaer=7` answered for every year)."""
    name, service = running
    headers, wrong = auth(token_issuer), []
    for method, path, operation in operations(document(service, token_issuer)):
        sent = target(path, [*required_query(operation), ("yaer", "7")])
        status, answer, text = raw(service.url, headers, method, sent)
        if status != 422 or problem(status, answer, text) != [("yaer", "unknown_parameter")]:
            wrong.append(f"{method} {sent.decode()}: {status} {text[:200]}")
    assert not wrong, f"{name}:\n" + "\n".join(wrong[:20])


def _first_get_with_query(doc: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    """A GET with query parameters, and one of them; `/healthz` and an unknown name where there is none."""
    for method, path, op in operations(doc):
        names = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
        if method == "GET" and names:
            return path, op, names[0]
    return "/healthz", {}, "x"


def test_a_query_string_is_percent_encoded_utf8_and_uuids_and_booleans_have_one_spelling(running, token_issuer):
    """Failed on the old code: `%ff` was read as U+FFFD (`%C3` too), a UUID without hyphens, in braces or as a URN
    as the same id. Raw bytes outside ASCII are refused by the server's own parser (400 `http_syntax`) before
    the kit's rule (`percent_encoding`) would."""
    name, service = running
    headers, doc = auth(token_issuer), document(service, token_issuer)
    path, operation, parameter = _first_get_with_query(doc)
    base = target(path, required_query(operation))
    glue = b"&" if b"?" in base else b"?"
    for suffix, rule in ((b"=%ff", "utf8"), (b"=%C3", "utf8"), (b"=\xc3\x85sa", "percent_encoding")):
        status, answer, text = raw(service.url, headers, "GET", base + glue + parameter.encode() + suffix)
        server_refused = (400, [("request", "http_syntax")]) if rule == "percent_encoding" else None
        assert (status, problem(status, answer, text)) in ((422, [(parameter, rule)]), server_refused), (
            path, suffix, status, text)
    uuids = [(method, path, p["name"]) for method, path, op in operations(doc) for p in op.get("parameters", [])
             if p["in"] == "path" and p.get("schema", {}).get("format") == "uuid"]
    for method, path, param in uuids[:3]:
        for spelling in (UUID.replace("-", ""), "{" + UUID + "}", "urn:uuid:" + UUID):
            status, answer, text = raw(service.url, headers, method, target(path, None, {param: spelling}))
            assert status == 422 and (param, "uuid_format") in problem(status, answer, text), (path, spelling, text)


def test_a_path_no_operation_can_mean_is_a_400_naming_the_path(running, token_issuer):
    """Failed on the old code: `..` reached reporting's `/v1/directory/units/{unit_id}` as the unit `..` (a proxy in
    front reads `/v1/directory/`), `%ff` LIKA's catalogue as the version U+FFFD, and LIKA's catalogue answered a
    version with a NUL as a 404 naming no rule."""
    name, service = running
    headers, wrong = auth(token_issuer), []
    for method, path, operation in operations(document(service, token_issuer)):
        for parameter in [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]:
            for segment, rule in ((b"..", "dot_segment"), (b"%2e", "dot_segment"), (b"%2E%2e", "dot_segment"),
                                  (b"%ff", "utf8"), (b"%00", "no_control_characters")):
                sent = target(path, required_query(operation), {parameter: "\x01"}).replace(b"%01", segment)
                status, answer, text = raw(service.url, headers, method, sent)
                errors = problem(status, answer, text)
                # a control character is named by the parameter it stands in (its type's rule: a UUID's format, an
                # id's text rules; or the text rules where the type checks no text)
                named = status == 422 and parameter in [field for field, _ in errors] if rule == "no_control_characters" \
                    else (status, errors) == (400, [("path", rule)])
                if not named:
                    wrong.append(f"{method} {sent.decode('latin-1')}: {status} {text[:200]}")
    assert not wrong, f"{name}:\n" + "\n".join(wrong[:20])


def test_nan_and_infinity_in_a_body_are_refused_naming_where(running, token_issuer):
    """Failed on the old code: "Input should be a valid integer" where the field is typed (the rule named no
    NaN), accepted where not."""
    name, service = running
    headers, wrong = auth(token_issuer), []
    bodies = {b'{"revision": NaN}': "revision", b'{"items": [{"year": Infinity}]}': "items.0.year",
              b'[-Infinity]': "0"}
    for method, path, operation in operations(document(service, token_issuer)):
        if "requestBody" not in operation:
            continue
        for body, where in bodies.items():
            status, answer, text = raw(service.url, headers, method, target(path, required_query(operation)), body)
            if status != 422 or problem(status, answer, text) != [(where, "non_finite_number")]:
                wrong.append(f"{method} {path} {body!r}: {status} {text[:200]}")
    assert not wrong, f"{name}:\n" + "\n".join(wrong[:20])


def test_the_openapi_document_says_the_rules(running, token_issuer):
    """Failed on the old code: no operation said how a parameter is spelt, 422 was left out where there are no
    parameters and 400 where there is no body or path parameter (an Accept weight `q=2` is a 400 on every one)."""
    name, service = running
    doc = document(service, token_issuer)
    assert "unknown query parameter is a 422" in doc["info"]["description"]
    wrong = []
    for method, path, operation in operations(doc):
        for status in ("400", "422"):
            if "application/problem+json" not in operation["responses"].get(status, {}).get("content", {}):
                wrong.append(f"{method} {path}: {status}")
        for parameter in operation.get("parameters", []):
            said = parameter.get("description", "")
            if "integer" in _schema_types(parameter) and "ASCII digits only" not in said:
                wrong.append(f"{method} {path} {parameter['name']}: integer format")
            if parameter["in"] == "query" and "array" not in _schema_types(parameter) and "Given once" not in said:
                wrong.append(f"{method} {path} {parameter['name']}: once")
    assert not wrong, f"{name}: " + "; ".join(wrong[:20])


def test_overlong_paths_and_queries_are_problems_that_do_not_repeat_them_whole(running, token_issuer):
    """Failed on the old code: a 404 for a path of 20 kB repeated it whole as the problem's `instance`."""
    name, service = running
    headers = auth(token_issuer)
    status, answer, text = raw(service.url, headers, "GET", b"/v1/" + b"a" * 20_000)
    assert status == 404 and problem(status, answer, text) == [("path", "no_such_route")]
    assert len(json.loads(text)["instance"]) <= 1000
    status, answer, text = raw(service.url, headers, "GET", b"/healthz?" + b"a=1&" * 20_000)
    assert status == 431 and problem(status, answer, text) == [("headers", "max_header_bytes")], text[:300]
    status, answer, text = raw(service.url, headers, "GET", b"/healthz?" + b"&" * 5000 + b"x=" + b"9" * 5000)
    assert status == 422 and problem(status, answer, text) == [("x", "unknown_parameter")], text[:300]


def test_a_404_of_a_read_or_a_write_names_the_parameter_and_the_rule(running, token_issuer):
    """Found by the fuzz below: reporting's unit and alert 404s named no field and no rule."""
    name, service = running
    if name != "reporting":
        pytest.skip("reporting's own 404s (the other services' name their ids already: `must_exist`, `not_found`)")
    headers = auth(token_issuer)
    status, answer, text = raw(service.url, headers, "GET", b"/v1/directory/units/nope?organiser_id=" + ORGANISER.encode())
    assert status == 404 and problem(status, answer, text) == [("unit_id", "not_found")], text
    status, answer, text = raw(service.url, headers, "POST", f"/v1/alerts/{UUID}/acknowledge".encode(),
                               b'{"comment": "ok"}')
    assert status == 404 and problem(status, answer, text) == [("alert_id", "not_found")], text


# ------------------------------------------------------------------ the fuzz


HOSTILE_TEXT = st.one_of(
    st.sampled_from(["1_0", "+1", " 1", "1.0", "-0", "NaN", "Infinity", "-Infinity", "1e309", "9" * 400, "0x10",
                     "true", "yes", "..", ".", "%", "%ff", "\x00", "\ufeff1", "\u0661", "\uff11", "19121212-1212",
                     "2026-02-30", "2026/27", "HT", "organiser", UUID, UUID.upper(), "a" * 3000, "\u202e", "\ud800"]),
    st.text(max_size=30), st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr))
HEADER_VALUES = st.one_of(
    st.sampled_from(["*/*", "application/json;q=2", "application/xml", "text/csv;q=0.5, */*;q=0", "", "\t",
                     "bytes=0-1", "gzip, br", "W/\"x\"", "127.0.0.1, 10.0.0.1", "sv-SE,sv;q=NaN"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40))
HEADER_NAMES = st.sampled_from(["Accept", "Accept-Language", "Accept-Encoding", "If-None-Match", "Range",
                                "X-Forwarded-For", "X-Request-Id", "Origin", "Cookie", "Prefer"])


def _encode(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def test_fuzzed_queries_paths_and_headers_never_get_a_5xx_a_traceback_or_an_undocumented_answer(running, token_issuer):
    """Hypothesis over every operation of the service's own document: its own and other query names with hostile
    values (numbers in every spelling, NaN, 1e309, -0, control characters, lone surrogates, overlong), hostile path
    values and headers. Held after the fixes above: the answer is documented for the operation, a 4xx is
    problem+json naming fields, nothing leaks."""
    name, service = running
    headers, doc = auth(token_issuer), document(service, token_issuer)
    ops = [(m, p, o) for m, p, o in operations(doc) if p != "/metrics"]
    names_of = {(m, p): [q["name"] for q in o.get("parameters", []) if q["in"] == "query"] for m, p, o in ops}
    seen: list[int] = []

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(ops), st.data())
    def run(op: tuple[str, str, dict[str, Any]], data: st.DataObject) -> None:
        method, path, operation = op
        own = names_of[(method, path)]
        query_names = st.sampled_from(own) | st.text(min_size=1, max_size=8) if own else st.text(min_size=1, max_size=8)
        pairs = data.draw(st.lists(st.tuples(query_names, HOSTILE_TEXT), max_size=4))
        query = [*required_query(operation), *pairs] if data.draw(st.booleans()) else pairs
        path_values = {m.group(1): data.draw(HOSTILE_TEXT) for m in _PARAM.finditer(path)}
        filled = _PARAM.sub(lambda m: _encode(path_values[m.group(1)]) or "x", path)
        sent = (filled + ("?" + "&".join(f"{_encode(k)}={_encode(v)}" for k, v in query) if query else "")).encode()
        extra = data.draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=2))
        status, answer, text = raw(service.url, headers, method, sent, b"{}" if "requestBody" in operation else None,
                                   extra=[(k.encode(), v.encode("latin-1")) for k, v in extra])
        seen.append(status)
        label = f"{method} {sent[:300].decode('latin-1')} {extra}"
        assert status < 500, (label, status, text[:500])
        assert not INTERNALS.search(text), (label, text[:500])
        documented = set(operation["responses"]) | {"401"}
        assert str(status) in documented, (label, status, sorted(documented), text[:300])
        if status >= 400:
            errors = problem(status, answer, text)
            assert errors and all(field and rule for field, rule in errors), (label, text[:300])
            assert not contains_personal_identity_number(text), (label, text[:300])

    run()
    assert len(seen) >= 100 and any(s < 400 for s in seen), (name, sorted(set(seen)))


# ------------------------------------------------------------------ the dashboard's own parameters


def _upstream_recording(sent: list[httpx.Request]):
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json={"authorization_endpoint": "http://issuer.test/authorize",
                                             "token_endpoint": "http://issuer.test/token"})
        if request.url.path.startswith(("/v1/compliance/", "/v1/figures/")):
            return httpx.Response(200, json={"columns": [], "rows": []})
        return httpx.Response(200, json=[])
    return answer


@pytest.fixture
def dashboard() -> Iterator[tuple[TestClient, list[httpx.Request]]]:
    import time

    from styrkedja_dashboard.app import create_app
    from styrkedja_dashboard.settings import DashboardSettings
    from styrkedja_dashboard.web.sessions import COOKIE
    from styrkedja_kit.auth import principal_from_claims

    settings = DashboardSettings(reporting_url="http://reporting.test", lika_url="http://lika.test",
                                 issuer="http://issuer.test")
    sent: list[httpx.Request] = []
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8100", raise_server_exceptions=False) as client:
        state = client.app.state  # type: ignore[attr-defined]
        state.http = state.oidc.http = httpx.AsyncClient(transport=httpx.MockTransport(_upstream_recording(sent)))
        session = state.sessions._new()
        session.token, session.token_expires_at = "opaque-token", time.time() + 600
        session.principal = principal_from_claims({"sub": "u-1", "roles": ["organiser_admin"],
                                                    # ORGANISER: the downloads' (only the token's are asked)
                                                    "organisers": ["212000-0142", ORGANISER],
                                                    "school_units": ["12345678"]})
        client.cookies.set(COOKIE, session.id)
        yield client, sent


@pytest.mark.parametrize(("page", "query", "named"), [
    ("/kedjan", "omgang=%2B1", "omgang"), ("/kedjan", "omgang=01", "omgang"), ("/kedjan", "omgang=%201", "omgang"),
    ("/kedjan", "omgang=1&omgang=2", "omgang"), ("/larm", "kvitterat=1", "kvitterat"),
    ("/larm", "enhet=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96%EF%BC%97%EF%BC%98", "enhet"),
    ("/rapport", "lasar=%D9%A2%D9%A0%D9%A2%D9%A6/%D9%A2%D9%A7", "lasar"), ("/kedjan", "amne=%ff", "amne"),
])
def test_the_dashboards_own_parameters_are_read_by_the_same_rule(dashboard, page, query, named):
    """Failed on the old code: `omgang=+1`, `01`, ` 1` were round 1, `omgang` twice its last value, `kvitterat=1` true,
    and full-width or Arabic-Indic digits matched the pages' `\\d` patterns (sent on to reporting)."""
    client, sent = dashboard
    answer = client.get(f"{page}?{query}", follow_redirects=False)
    assert answer.status_code == 422, (page, query, answer.status_code)
    assert named in answer.text
    assert not [r for r in sent if r.url.host == "reporting.test"], "asked reporting before refusing"


def test_the_dashboard_ignores_what_browsers_and_the_identity_provider_add(dashboard):
    client, _ = dashboard
    assert client.get("/kedjan?utm_source=mail&fbclid=x", follow_redirects=False).status_code == 200


# ------------------------------------------------------------------ what the clients send


def _offline_documents() -> dict[str, dict[str, Any]]:
    """Each service's OpenAPI document, from its app (no database, no broker: the document is made from the routes)."""
    import importlib

    from inprocess import SERVICES

    documents = {}
    for name, (package, settings_class) in SERVICES.items():
        settings_type = getattr(importlib.import_module(f"{package}.settings"), settings_class)
        app = importlib.import_module(f"{package}.main").create_app(
            settings_type(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", auth_issuer="http://issuer.test"))
        documents[name] = app.openapi()
    return documents


def _takes(doc: dict[str, Any], method: str, path: str) -> set[str] | None:
    """The query parameters the operation at a concrete `path` takes (None: no such operation)."""
    for template, item in doc["paths"].items():
        if re.fullmatch(_PARAM.sub("[^/]+", template), path) and method.lower() in item:
            return {p["name"] for p in item[method.lower()].get("parameters", []) if p["in"] == "query"}
    return None


def test_every_request_the_dashboard_sends_names_only_parameters_the_operation_takes(dashboard):
    """An unknown parameter is a 422 now, and the dashboard reads a figure's 422 as "not for this choice" (the figure
    left out of the page): each read of its clients and each download (sent every name any table takes) is checked
    against the services' documents. Failed on the old download tables: the organiser's reporting table passed on
    `list` and `only_missing` (the unit's table takes them), every figure `compare`, `periods` and `gender`."""
    import asyncio

    from styrkedja_dashboard.clients import Lika, Reporting
    from styrkedja_dashboard.exports.routes import TABLES

    client, sent = dashboard
    documents = _offline_documents()
    every = sorted({name for _, names in TABLES.values() for name in names} - {"organiser_id", "school_unit_code"})
    for table in TABLES:
        query = [(name, "x") for name in every] + [("organiser_id", ORGANISER), ("school_unit_code", "29990011")]
        client.get(f"/ladda-ner/{table}.csv", params=query)
    assert len([r for r in sent if r.url.host == "reporting.test"]) == len(TABLES)

    async def reads() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(_upstream_recording(sent)))
        reporting = Reporting(http, "reporting", "http://reporting.test", "t")
        lika = Lika(http, "lika", "http://lika.test", "t")
        period = {"school_year": "2026/27", "term": "HT"}
        calls = [
            reporting.assessment_results(level="organiser", organiser_id=ORGANISER, unit_id=ORGANISER,
                                         subject_code="GRGRMAT01", round=1, split=["year"], **period),
            reporting.forecast_results(level="school_unit", organiser_id=ORGANISER, unit_id="29990011",
                                       split=["year"], **period),
            reporting.lika_school_units(organiser_id=ORGANISER),
            *[reporting.figure(name, level="school_unit", organiser_id=ORGANISER, unit_id="29990011",
                               subject_code="GRGRMAT01", **period, **({"periods": 6} if name == "history" else {}))
              for name in ("trend", "history", "gender-gap", "freshness", "coverage", "drill-down",
                           "forecast-outcome", "merit")],
            reporting.figure("trend", level="organiser", organiser_id=ORGANISER, school_year="2026/27", round=2),
            reporting.alerts(organiser_id=ORGANISER, school_unit_code="29990011", status="open",
                             rule="pass_share_drop", subject_code="GRGRMAT01"),
            reporting.students_at_risk("29990011", **period),
            reporting.compliance(ORGANISER, **period),
            reporting.compliance(ORGANISER, school_unit_code="29990011", list="teacher", **period),
            reporting.compliance_items(ORGANISER, "29990011", **period), reporting.unit_names(ORGANISER),
            reporting.support_summary(level="school_unit", unit_id="29990011", organiser_id=ORGANISER),
            lika.self_assessments(organiser_id=ORGANISER, school_unit_code="29990011"),
            lika.catalogue("2026.1", school_form="grundskola"), lika.self_assessment(UUID), lika.compare(UUID, UUID),
            lika.action_plan(UUID, status="planned", priority=1), lika.export(UUID),
            lika.export(UUID, action_plan=True)]
        await asyncio.gather(*calls, return_exceptions=True)  # the answers are stand-ins; what was sent is judged
        await http.aclose()

    asyncio.run(reads())
    wrong = []
    for request in sent:
        service = {"lika.test": "lika", "reporting.test": "reporting"}.get(request.url.host)
        if service is None:
            continue
        takes = _takes(documents[service], request.method, request.url.path)
        names = {name for name, _ in request.url.params.multi_items()}
        if takes is None or names - takes:
            wrong.append(f"{service} {request.method} {request.url.path}: {sorted(names - (takes or set()))}")
    assert len(sent) >= len(TABLES) + 20 and not wrong, wrong


def test_every_read_of_the_read_bench_names_only_parameters_its_operation_takes():
    """Failed before the bench was brought to the rule: its common parameters rode along on every read (`level` to the
    compliance tables, `organiser_id` to the directory tree, `school_year` to the support tables), ignored until an
    unknown parameter became a 422 — a bench of refusals."""
    import importlib.util
    import pathlib

    spec = importlib.util.spec_from_file_location("bench_figures_read_h16",
                                                  pathlib.Path(__file__).parent.parent / "bench" / "figures_read.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    reporting = _offline_documents()["reporting"]
    wrong = []
    for name in bench.REQUESTS:
        path, params = bench.params_of(name)
        takes = _takes(reporting, "GET", path)
        if takes is None or set(params) - takes:
            wrong.append(f"{name}: {sorted(set(params) - (takes or set()))}")
    assert not wrong, wrong
