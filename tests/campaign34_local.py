"""Round 34's local campaign: NOT collected in CI (no `test_` file prefix); run it explicitly, e.g.

    STYRKEDJA_TEST_BROKERS=embedded python -m pytest tests/campaign34_local.py -q -s -p no:randomly -o timeout=0

By hand what the earlier rounds' harness (tests/test_hostile_http.py, rounds 31-33) did not send, against every
operation of each service in-process (`inprocess.start_service`), and the dashboard's own endpoints (a TestClient on
a fake reporting, as its hostile tests): query parameters in digits of other scripts, superscripts, overlong and
surrogate UTF-8, separators of other servers (`;`, `%26`, `p[]`), a name given in another case; path segments of
dots, `;` matrix parameters, a trailing slash, other digits; a valid body (the document's example) given with
`-0`, `1E+2`, `100.0` for each integer, a key twice at depth, a BOM, UTF-16, under every Content-Type spelling and
Content-Encoding, chunked without a length, with `Expect: 100-continue`; Range, If-None-Match, If-Match,
If-Modified-Since of junk; Accept of every kind; Authorization spelt oddly; tokens validly signed by the session's
issuer with claims of every odd shape (`exp` as `1e400`, as a string, roles as a string, organisers nested or in
other digits, deep JSON). Each answer is judged by itself: below 500, a 4xx problem+json naming a field and a rule
(400, 422), nothing sent that is a personal identity number or a token echoed; what must be refused is refused.
The findings go to $CAMPAIGN_OUT (default /tmp/styrkedja-campaign34)/<service>.txt. It asserts nothing: it is read.
What it found is in tests/test_hostile_round34.py."""

from __future__ import annotations

import base64
import gzip
import json
import os
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from inprocess import ORGANISER, start_service

from styrkedja_contracts.identifiers import contains_personal_identity_number

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

OUT = Path(os.environ.get("CAMPAIGN_OUT", "/tmp/styrkedja-campaign34"))
UNIT = "29990011"
PLAUSIBLE = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "round": "1", "unit_id": ORGANISER,
             "version": "1", "fmt": "csv"}
PIN = "19121212-1212"


class Judge:
    """Sends and judges; keeps every wrong answer with what was sent."""

    def __init__(self, name: str, client: httpx.Client, token: str) -> None:
        self.name, self.client, self.token = name, client, token
        self.wrong: list[str] = []
        self.notes: list[str] = []  # what was answered, to read (the tokens' statuses)
        self.sent = 0
        self.statuses: Counter[int] = Counter()

    def judge(self, what: str, response: httpx.Response, *, refused: bool = False, sent: str = "") -> None:
        self.sent += 1
        status = response.status_code
        self.statuses[status] += 1
        kind = response.headers.get("content-type", "")
        text = response.text if response.request.method != "HEAD" else ""
        if status >= 500:
            self.wrong.append(f"{what}: {status} {text[:300]!r}")
            return
        if refused and status < 400:
            self.wrong.append(f"{what}: {status}, not refused {text[:200]!r}")
        if 400 <= status < 500 and response.request.method != "HEAD":
            if not kind.startswith("application/problem+json"):
                self.wrong.append(f"{what}: {status} not problem+json ({kind}) {text[:200]!r}")
            elif status in (400, 422):
                errors = response.json().get("errors") or []
                if not errors or not all(e.get("field") and e.get("rule") for e in errors):
                    self.wrong.append(f"{what}: {status} names no field and rule {text[:300]!r}")
        if PIN in sent and contains_personal_identity_number(text + json.dumps(dict(response.headers))):
            self.wrong.append(f"{what}: {status} echoes the personal identity number {text[:200]!r}")
        if self.token and (self.token in text or self.token[-40:] in text):
            self.wrong.append(f"{what}: {status} echoes the token")

    def send(self, what: str, method: str, url: str, *, refused: bool = False, sent: str = "",
             **kwargs: Any) -> httpx.Response | None:
        headers = kwargs.get("headers")
        if isinstance(headers, dict):  # a value outside ASCII as its UTF-8 bytes, as a client may send it
            kwargs["headers"] = {k: v.encode() if isinstance(v, str) else v for k, v in headers.items()}
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            self.wrong.append(f"{what}: {type(error).__name__}: {error}")
            return None
        self.judge(what, response, refused=refused, sent=sent or url + repr(kwargs))
        return response


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation) for path, item in document["paths"].items()
            if path not in ("/readyz", "/metrics") for method, operation in item.items()
            if method in ("get", "post", "put", "patch", "delete")]


def fill(path: str, operation: dict[str, Any], **given: str) -> str:
    out = path
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path":
            name = parameter["name"]
            value = given.get(name) or PLAUSIBLE.get(name) or _example(parameter) or "x1"
            out = out.replace("{" + name + "}", value)
    return out


def _example(parameter: dict[str, Any]) -> str | None:
    schema = parameter.get("schema", {})
    for option in [schema, *schema.get("anyOf", [])]:
        if "enum" in option:
            return str(option["enum"][0])
        if option.get("format") == "uuid":
            return "00000000-0000-4000-8000-000000000001"
        if option.get("type") == "integer":
            return "1"
    return None


def example_body(operation: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    if "example" in content:
        return content["example"]
    for example in content.get("examples", {}).values():
        if "value" in example:
            return example["value"]
    return {}


def integer_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from integer_paths(item, (*path, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from integer_paths(item, (*path, n))


def spelt(value: Any, path: tuple[Any, ...], spelling: str) -> bytes:
    """`value` as JSON with the number at `path` written as `spelling`."""
    marker = "\u2063MARK\u2063"

    def put(node: Any, rest: tuple[Any, ...]) -> Any:
        if not rest:
            return marker
        copy = dict(node) if isinstance(node, dict) else list(node)
        copy[rest[0]] = put(node[rest[0]], rest[1:])
        return copy

    return json.dumps(put(value, path)).replace(json.dumps(marker), spelling).encode()


def duplicated_deep(value: Any) -> bytes | None:
    """`value` as JSON with the first key of its deepest first object given twice (the second another value)."""
    text = json.dumps(value)

    def deepest(node: Any, depth: int = 0) -> tuple[int, dict[str, Any]] | None:
        best = (depth, node) if isinstance(node, dict) and node else None
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
        for child in children:
            found = deepest(child, depth + 1)
            if found and (best is None or found[0] > best[0]):
                best = found
        return best

    found = deepest(value)
    if found is None:
        return None
    obj = found[1]
    key = next(iter(obj))
    one = json.dumps(obj)
    twice = one[:-1] + ", " + json.dumps(key) + ": " + json.dumps("x") + "}"
    return text.replace(one, twice, 1).encode()


QUERY_VALUES = ["\u0662\u0669\u0669\u0669", "\uff12\uff19\uff19\uff19", "\u00b2", "\u0663", "1e2", "0x1", "1_0",
                "-0", "+1", " 1", "%C0%AE", "%ED%A0%80", "%E0%80%80", "%F8%88%80%80%80", "%u0041", "%", "%G0", "%2",
                "%00", "%E2%80%8B", "%EF%BB%BF1", "1%0A", "true%00", "2999%09", "%EF%BC%91"]


def query_cases(judge: Judge, method: str, path: str, operation: dict[str, Any]) -> None:
    base = fill(path, operation)
    names = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
    body = _body_kwargs(operation)
    for name in names:
        for value in QUERY_VALUES:
            encoded = value if "%" in value else str(httpx.QueryParams({name: value}))[len(name) + 1:]
            refused = any(c > "\x7f" for c in value) or value.startswith(("%C0", "%ED", "%E0%80", "%F8", "%u", "%G",
                                                                           "%00")) or value in ("%", "%2")
            judge.send(f"{method} {path}?{name}={value!r}", method, f"{base}?{name}={encoded}", refused=refused,
                       **body)
        for extra in (f"{name}[]=1", f"{name}.x=1", f"{name.upper()}=1", f"{name}%00=1", f"{name}%20=1",
                      f"{name}=1;{name}=2", f"{name}=1%26{name}%3D2", f"{name}", f"{name}=1&{name}=1",
                      f"{name}=&{name}=", f"%{name}=1", f"{name}=1#frag"):
            judge.send(f"{method} {path}?{extra}", method, f"{base}?{extra}", **body)
    judge.send(f"{method} {path}?;", method, f"{base}?;", **body)
    judge.send(f"{method} {path}??", method, f"{base}??", **body)


PATH_VALUES = [".", "..", "%2e", "%2E%2E", "%2e%2e%2f", ";x=1", "2999;jsessionid=1", "2999%3B", "%2F", "%5C",
               "2999%0A", "2999%20", "+2999", "2999.json", "2999%23", "\u0662\u0669\u0669\u0669",
               "\uff12\uff19\uff19\uff19", "29990011%00", "x" * 10_000, "%C0%AE%C0%AE", "%EF%BB%BF2999", "~", "*",
               "%25", "%252e%252e", "2999%3F"]


def path_cases(judge: Judge, method: str, path: str, operation: dict[str, Any]) -> None:
    body = _body_kwargs(operation)
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "path":
            continue
        for value in PATH_VALUES:
            url = fill(path, operation, **{parameter["name"]: value})
            judge.send(f"{method} {path} {parameter['name']}={value[:30]!r}", method, url, **body)
    url = fill(path, operation)
    for spelling in (url + "/", "/" + url, url.replace("/v1/", "/v1//"), url.replace("/v1/", "/V1/"),
                     url + "/.", url + "%20", url.replace("/v1/", "/v1/./"), url.replace("/v1/", "/x/../v1/")):
        judge.send(f"{method} {path} as {spelling[:60]!r}", method, spelling, **body)


def _body_kwargs(operation: dict[str, Any]) -> dict[str, Any]:
    if "requestBody" not in operation:
        return {}
    return {"content": json.dumps(example_body(operation)).encode(), "headers": {"content-type": "application/json"}}


CONTENT_TYPES = ["application/json; charset=utf-8", 'application/json; charset="utf-8"', "APPLICATION/JSON",
                 "application/json; charset=UTF-16", "application/json, text/plain", "application/json;",
                 "application/problem+json", "application/json-patch+json", "application/vnd.api+json", "text/json",
                 "application/json; charset=utf-8; charset=latin-1", "application/json;charset=utf8",
                 "application/json ; charset = utf-8", "application/json; boundary=x", "application/json\t",
                 "application/json; charset=", "application/json; q=1", "application/x-json", "json"]


def body_cases(judge: Judge, method: str, path: str, operation: dict[str, Any]) -> None:
    if "requestBody" not in operation:
        return
    url = fill(path, operation)
    example = example_body(operation)
    plain = json.dumps(example).encode()
    json_type = {"content-type": "application/json"}
    for spelling in ("-0", "1E+2", "1e2", "100.0", "1.0E2", "-0.0", "0e0", "1e400", "2E0", "1.000000000000000001"):
        for at in list(integer_paths(example))[:6]:
            judge.send(f"{method} {path} body {'.'.join(map(str, at))}={spelling}", method, url,
                       content=spelt(example, at, spelling), headers=json_type,
                       refused=spelling in ("1e400", "1.000000000000000001", "-0.0", "1E+2", "1e2", "100.0",
                                            "1.0E2", "0e0", "2E0"))
    twice = duplicated_deep(example)
    if twice is not None:
        judge.send(f"{method} {path} body a deep key twice", method, url, content=twice, headers=json_type,
                   refused=True)
    for label, data in [("BOM", b"\xef\xbb\xbf" + plain), ("UTF-16LE", plain.decode().encode("utf-16-le")),
                        ("UTF-16 with BOM", plain.decode().encode("utf-16")),
                        ("trailing NUL", plain + b"\x00"), ("trailing comma", plain[:-1] + b",}"
                                                              if plain.endswith(b"}") else plain + b","),
                        ("two documents", plain + plain), ("comment", b"/* x */" + plain),
                        ("single quotes", plain.replace(b'"', b"'")), ("leading form feed", b"\x0c" + plain),
                        ("escaped solidus keys", plain.replace(b'"', b'"\\u0020', 1))]:
        judge.send(f"{method} {path} body {label}", method, url, content=data, headers=json_type, refused=True)
    for kind in CONTENT_TYPES:
        judge.send(f"{method} {path} content-type {kind!r}", method, url, content=plain,
                   headers={"content-type": kind})
    judge.send(f"{method} {path} two content-types", method, url, content=plain,
               headers=[("content-type", "application/json"), ("content-type", "text/plain")])
    judge.send(f"{method} {path} two same content-types", method, url, content=plain,
               headers=[("content-type", "application/json"), ("content-type", "application/json")])
    for encoding, data in [("gzip", gzip.compress(plain)), ("deflate", zlib.compress(plain)), ("br", plain),
                           ("identity", plain), ("gzip, identity", gzip.compress(plain)), ("GZIP", gzip.compress(plain)),
                           ("", plain), ("x-gzip", gzip.compress(plain)), ("gzip", plain), ("identity, identity", plain),
                           ("zstd", plain), ("gzip", gzip.compress(b"\x1f\x8b" * 1000)),
                           ("gzip", gzip.compress(b" " * 50_000_000))]:
        judge.send(f"{method} {path} content-encoding {encoding!r} ({len(data)} bytes)", method, url, content=data,
                   headers={**json_type, "content-encoding": encoding})

    def chunks() -> Iterator[bytes]:
        for n in range(0, len(plain), 7):
            yield plain[n:n + 7]

    judge.send(f"{method} {path} chunked", method, url, content=chunks(), headers=json_type)
    judge.send(f"{method} {path} expect 100-continue", method, url, content=plain,
               headers={**json_type, "expect": "100-continue"})
    judge.send(f"{method} {path} expect junk", method, url, content=plain, headers={**json_type, "expect": "junk"})
    judge.send(f"{method} {path} content-md5 junk", method, url, content=plain,
               headers={**json_type, "content-md5": "x", "content-range": "bytes 0-1/2", "digest": "sha=junk"})
    judge.send(f"{method} {path} body deep", method, url,
               content=plain[:-1] + b', "zz": ' + b"[" * 5000 + b"]" * 5000 + b"}" if plain.endswith(b"}") else plain,
               headers=json_type, refused=plain.endswith(b"}"))


HEADER_CASES: list[tuple[str, str]] = [
    ("accept", "text/csv"), ("accept", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("accept", ";;;"), ("accept", "*/*;q=0"), ("accept", "application/json;q=0, */*;q=0.1"),
    ("accept", "application/json;q=2"), ("accept", "text/csv;q=0.5, application/json;q=0.6"), ("accept", ""),
    ("accept", ",".join(f"type{i}/sub{i};q=0.{i % 10}" for i in range(600))), ("accept", "application/json;q=nan"),
    ("accept", "application/json;q=-1"), ("accept", "application/json;q=1e400"), ("accept", "*/json"),
    ("accept", "application/*;q=0.1, application/json;q=0"), ("accept", "text/csv;charset=latin-1"),
    ("accept", "application/json; charset=utf-16"), ("accept", "\u00e9/\u00e9"),
    ("accept-charset", "latin-1"), ("accept-language", "x" * 4000), ("accept-encoding", "gzip;q=nan, *;q=0"),
    ("range", "bytes=0-0"), ("range", "bytes=-1"), ("range", "bytes=1-0"), ("range", "bytes=0-" + "9" * 40),
    ("range", "items=0-1"), ("range", "bytes=" + ",".join(f"{i}-{i}" for i in range(2000))),
    ("if-none-match", "*"), ("if-none-match", 'W/"x"'), ("if-none-match", "junk"), ("if-none-match", '"x", junk'),
    ("if-match", "*"), ("if-match", "junk"), ("if-modified-since", "junk"), ("if-modified-since", "Thu, 01 Jan 1970 "
                                                                                                  "00:00:00 GMT"),
    ("if-unmodified-since", "Fri, 31 Dec 9999 23:59:59 GMT"), ("if-range", "junk"),
    ("idempotency-key", PIN), ("idempotency-key", ""), ("idempotency-key", "x" * 9000), ("idempotency-key", "\x7f"),
    ("idempotency-key", "a b"), ("x-request-id", "x" * 9000), ("x-request-id", PIN),
    ("traceparent", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"), ("traceparent", "ff-junk"),
    ("traceparent", PIN), ("x-forwarded-for", "::1, 999.1.1.1, " + PIN), ("forwarded", f"for={PIN};host=evil"),
    ("x-forwarded-proto", "javascript"), ("x-forwarded-host", "evil.example"), ("host", "evil.example"),
    ("host", ""), ("host", "a" * 300), ("x-http-method-override", "DELETE"), ("x-original-url", "/admin"),
    ("content-length", "0"), ("prefer", "return=minimal; handling=lenient"), ("cache-control", "no-transform, x=" + PIN),
    ("origin", "http://evil.example"), ("access-control-request-method", "DELETE"),
]


def header_cases(judge: Judge, method: str, path: str, operation: dict[str, Any], token: str) -> None:
    url = fill(path, operation)
    body = _body_kwargs(operation)
    for name, value in HEADER_CASES:
        headers = {**body.get("headers", {}), name: value}
        if name == "content-length" and body:
            continue
        judge.send(f"{method} {path} {name}: {value[:40]!r}", method, url,
                   content=body.get("content"), headers=headers, sent=value)
    for spelling in (f"Bearer  {token}", f"Bearer {token} ", f"bearer {token}", f"BEARER {token}", f"Bearer\t{token}",
                     f"Bearer {token}=", f"Bearer {token}.x", f" Bearer {token}", f"Bearer {token},Bearer {token}",
                     f"Bearer {token[:-5]}\u00e9\u00e9\u00e9\u00e9\u00e9", f"Bearer {token.replace('.', '..', 1)}",
                     f"Bearer {'.'.join(token.split('.')[:2])}", f"Bearer {token}.{token.split('.')[2]}.x.y",
                     "Bearer", "Bearer ", "Token " + token, f"Bearer {token}\x00"):
        try:
            headers = {**body.get("headers", {}), "authorization": spelling}
            response = judge.client.request(method, url, content=body.get("content"), headers=headers)
        except (httpx.HTTPError, UnicodeError, ValueError) as error:
            judge.sent += 1
            if "Illegal header" not in str(error) and "codec" not in str(error):
                judge.wrong.append(f"auth {spelling[:12]!r}: {type(error).__name__} {error}")
            continue
        judge.judge(f"{method} {path} authorization {spelling[:8]!r}...{spelling[-6:]!r}", response, sent=spelling)
    judge.send(f"{method} {path} two authorizations", method, url, content=body.get("content"),
               headers=[*body.get("headers", {}).items(), ("authorization", f"Bearer {token}"),
                        ("authorization", "Bearer junk")], refused=True)
    if method == "GET":
        judge.send(f"HEAD {path}", "HEAD", url)
    judge.send(f"OPTIONS {path}", "OPTIONS", url)
    judge.send(f"OPTIONS {path} preflight", "OPTIONS", url, headers={"origin": "http://evil.example",
                                                                    "access-control-request-method": method})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(issuer: Any, claims_text: bytes, header: dict[str, Any] | None = None) -> str:
    """A token signed by the issuer's own key over a payload written by hand (any JSON, or none)."""
    minter = issuer.minter
    head = b64(json.dumps(header or {"alg": "ES256", "typ": "JWT", "kid": minter.kid}).encode())
    body = b64(claims_text)
    signing = f"{head}.{body}".encode()
    algorithm = jwt.get_algorithm_by_name("ES256")
    return f"{head}.{body}.{b64(algorithm.sign(signing, minter.key))}"


def token_claims(issuer: Any) -> dict[str, bytes]:
    now = int(time.time())
    good = jwt.decode(issuer.mint(roles=["platform", "principal", "organiser_admin", "ops"], organisers=[ORGANISER],
                                  school_units=[UNIT]), options={"verify_signature": False})

    def with_(raw: str, **changes: Any) -> bytes:
        document = {**good, **changes}
        text = json.dumps(document)
        return (text[:-1] + ", " + raw + "}").encode() if raw else text.encode()

    deep = "[" * 3000 + "]" * 3000
    return {
        "exp 1e400": with_('"exp": 1e400'),
        "exp -1e400": with_('"exp": -1e400'),
        "exp NaN": with_('"exp": NaN'),
        "exp Infinity": with_('"exp": Infinity'),
        "iat 1e400": with_('"iat": 1e400'),
        "nbf 1e400": with_('"nbf": 1e400'),
        "exp a string": with_("", exp=str(now + 600)),
        "exp a float": with_("", exp=now + 600.5),
        "exp 400 digits": with_('"exp": ' + "9" * 400),
        "exp 5000 digits": with_('"exp": ' + "9" * 5000),
        "exp true": with_("", exp=True),
        "exp a list": with_("", exp=[now + 600]),
        "exp an object": with_("", exp={"v": now + 600}),
        "exp twice": with_(f'"exp": {now - 10_000}'),
        "organisers twice": with_('"organisers": ["0001"]'),
        "roles twice": with_('"roles": ["teacher"]'),
        "roles a string": with_("", roles="ops"),
        "roles nested": with_("", roles=[["ops"]]),
        "roles of objects": with_("", roles=[{"ops": True}]),
        "roles null": with_("", roles=None),
        "roles an object": with_("", roles={"ops": True}),
        "roles 10000": with_("", roles=["ops"] * 10000),
        "roles of numbers": with_("", roles=[1, 2]),
        "organisers a string": with_("", organisers=ORGANISER),
        "organisers of ints": with_("", organisers=[int(ORGANISER)]),
        "organisers nested": with_("", organisers=[[ORGANISER]]),
        "organisers of objects": with_("", organisers=[{"id": ORGANISER}]),
        "organisers in Arabic-Indic": with_("", organisers=["\u0662\u0669\u0669\u0669"]),
        "organisers full-width": with_("", organisers=["\uff12\uff19\uff19\uff19"]),
        "organisers with a space": with_("", organisers=[ORGANISER + " "]),
        "organisers a PIN": with_("", organisers=[PIN]),
        "organisers empty": with_("", organisers=[]),
        "organisers 1e4 strings": with_("", organisers=[f"{n:04d}" for n in range(10_000)]),
        "school_units a string": with_("", school_units=UNIT),
        "school_units nested": with_("", school_units=[[UNIT]]),
        "school_units in other digits": with_("", school_units=["\u0662" * 8]),
        "groups odd": with_("", groups=[f"{UNIT}/", f"/{UNIT}", f"{UNIT}//7A", f"{UNIT}/7A/8B", "x" * 5000]),
        "areas odd": with_("", areas=[None, 1, [], "\x00"]),
        "sub a number": with_("", sub=12),
        "sub a PIN": with_("", sub=PIN),
        "sub NUL": with_("", sub="a\x00b"),
        "sub huge": with_("", sub="x" * 12_000),
        "aud nested": with_("", aud=[[good["aud"]]]),
        "aud an object": with_("", aud={"aud": good["aud"]}),
        "iss a list": with_("", iss=[good["iss"]]),
        "deep claim": with_('"x": ' + deep),
        "claims an array": json.dumps([good]).encode(),
        "claims a string": json.dumps("x").encode(),
        "claims null": b"null",
        "claims not JSON": b"{",
        "claims BOM": b"\xef\xbb\xbf" + json.dumps(good).encode(),
        "claims UTF-16": json.dumps(good).encode("utf-16"),
        "claims invalid UTF-8": json.dumps(good).encode()[:-1] + b', "x": "\xff"}',
        "claims lone surrogate": with_('"x": "\\ud800"'),
        "azp an object": with_("", azp={"a": 1}),
        "client_id a list": with_("", client_id=["a"]),
        "scope a list": with_("", scope=["ops"]),
        "realm_access nested": with_("", realm_access={"roles": [["ops"]]}),
    }


def token_headers(issuer: Any) -> dict[str, dict[str, Any]]:
    kid = issuer.minter.kid
    return {
        "kid a list": {"alg": "ES256", "kid": [kid]},
        "kid a path": {"alg": "ES256", "kid": "../../../../etc/passwd"},
        "kid NUL": {"alg": "ES256", "kid": kid + "\x00"},
        "kid huge": {"alg": "ES256", "kid": "k" * 8000},
        "alg a list": {"alg": ["ES256"], "kid": kid},
        "alg lower": {"alg": "es256", "kid": kid},
        "crit unknown": {"alg": "ES256", "kid": kid, "crit": ["x-unknown"], "x-unknown": 1},
        "b64 false": {"alg": "ES256", "kid": kid, "b64": False, "crit": ["b64"]},
        "jku evil": {"alg": "ES256", "kid": kid, "jku": "http://evil.example/jwks"},
        "jwk embedded": {"alg": "ES256", "kid": kid, "jwk": {"kty": "EC"}},
        "typ odd": {"alg": "ES256", "kid": kid, "typ": "at+jwt\x00"},
        "zip DEF": {"alg": "ES256", "kid": kid, "zip": "DEF"},
    }


def token_cases(judge: Judge, issuer: Any, operations_: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Each odd token on a few operations (a read and a write): refused 401, or taken where its claims are sound."""
    picked = [op for op in operations_ if op[0] == "GET"][:2] + [op for op in operations_ if op[0] != "GET"][:2]
    good = jwt.decode(issuer.mint(roles=["ops"], organisers=[ORGANISER]), options={"verify_signature": False})
    tokens = {label: signed(issuer, claims) for label, claims in token_claims(issuer).items()}
    tokens |= {label: signed(issuer, json.dumps(good).encode(), header) for label, header in
               token_headers(issuer).items()}
    must_refuse = {"exp 1e400", "exp -1e400", "exp NaN", "exp Infinity", "iat 1e400", "nbf 1e400", "exp a string",
                   "exp 400 digits", "exp 5000 digits", "exp true", "exp a list", "exp an object", "exp twice",
                   "organisers twice", "roles twice", "claims an array", "claims a string", "claims null",
                   "claims not JSON", "claims BOM", "claims UTF-16", "claims invalid UTF-8", "kid a list",
                   "kid a path", "kid NUL", "kid huge", "alg a list", "alg lower", "crit unknown", "b64 false",
                   "sub a number", "aud nested", "aud an object", "iss a list", "deep claim",
                   "claims lone surrogate"}
    for method, path, operation in picked:
        url = fill(path, operation)
        body = _body_kwargs(operation)
        for label, token in tokens.items():
            response = judge.send(f"token {label}: {method} {path}", method, url, content=body.get("content"),
                                  headers={**body.get("headers", {}), "authorization": f"Bearer {token}"},
                                  refused=label in must_refuse, sent=PIN if "PIN" in label else "")
            if response is not None:
                judge.notes.append(f"token {label}: {method} {path}: {response.status_code} {response.text[:100]!r}")
            if response is not None and label in must_refuse and response.status_code not in (401, 413, 431):
                judge.wrong.append(f"token {label}: {method} {path}: {response.status_code}, not 401 "
                                   f"{response.text[:200]!r}")


def run_service(name: str, infrastructure: Any, issuer: Any) -> Judge:
    service = start_service(name, infrastructure, issuer)
    token = issuer.mint(roles=["platform", "principal", "organiser_admin", "ops"], organisers=[ORGANISER],
                        school_units=[UNIT, "12345678"], subject="fuzz", client_id="platform-fuzz",
                        ttl_seconds=4 * 3600)
    client = httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    judge = Judge(name, client, token)
    try:
        document = client.get("/openapi.json").json()
        ops = operations(document)
        only = os.environ.get("CAMPAIGN_ONLY")  # while iterating: `tokens` alone
        for method, path, operation in ops if only != "tokens" else []:
            query_cases(judge, method, path, operation)
            path_cases(judge, method, path, operation)
            body_cases(judge, method, path, operation)
            header_cases(judge, method, path, operation, token)
        token_cases(judge, issuer, ops)
    finally:
        client.close()
        service.stop()
    return judge


def report(name: str, judge: Judge) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}: {judge.sent} requests, {len(judge.wrong)} wrong; statuses {dict(sorted(judge.statuses.items()))}",
             *judge.wrong, "--- notes", *judge.notes]
    (OUT / f"{name}.txt").write_text("\n".join(lines) + "\n")
    print(lines[0], flush=True)


@pytest.mark.parametrize("name", ["assessment", "forecast", "lika", "reporting"])
def test_campaign34_http(name: str, infrastructure: Any, token_issuer: Any) -> None:
    report(name, run_service(name, infrastructure, token_issuer))


# --- the dashboard's own endpoints: a TestClient on a fake reporting (services/dashboard/tests/test_hostile_input.py)

DASHBOARD_ORGANISER, NORTH = "212000-0142", "12345678"
ALERT = "00000000-0000-0000-0000-000000000001"
DASHBOARD_GETS = ["/", "/logga-in", "/auth/callback", "/rapportering", "/ladda-ner/trend.csv", "/ladda-ner/trend.xlsx",
                  "/ladda-ner/rapportering.csv", "/rapport", "/rapport.pdf", "/kedjan", "/kedjan/export.csv",
                  "/kedjan/export.xlsx", "/nedbrytning", "/lika", "/lika/jamfor", f"/lika/{ALERT}/handlingsplan",
                  f"/lika/{ALERT}/handlingsplan/export.csv", f"/lika/{ALERT}/export.xlsx", "/larm", "/larm/export.csv",
                  "/larm/export.xlsx", "/healthz"]
DASHBOARD_PARAMETERS = ["huvudman", "enhet", "niva", "lasar", "omgang", "amne", "status", "lista", "forsta",
                        "organiser_id", "school_unit_code", "next", "code", "state", "error", "level"]
DASHBOARD_VALUES = ["\u0662\u0669\u0669\u0669", "\uff12\uff19\uff19\uff19", "\u00b2", "%00", "%ED%A0%80", "%C0%AE",
                    "%FF", "", "%", "%G0", "1e400", "-0", "<script>alert(1)</script>", PIN, "x" * 9000, "%0D%0AX: 1",
                    "%E2%80%AE", "%EF%BB%BF"]


def _dashboard_upstream(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("openid-configuration"):
        return httpx.Response(200, json={"authorization_endpoint": "http://issuer.test/authorize",
                                         "token_endpoint": "http://issuer.test/token"})
    if path.endswith("/acknowledge"):
        return httpx.Response(200, json={"status": "acknowledged"})
    if path.startswith(("/v1/compliance/", "/v1/figures/")):
        return httpx.Response(200, json={"columns": [], "rows": []})
    if path in ("/v1/results/assessments", "/v1/results/forecasts", "/v1/alerts", "/v1/lika/school-units",
                "/v1/self-assessments") or path.endswith(("/tree", "/students-at-risk")):
        return httpx.Response(200, json=[])
    return httpx.Response(404, json={"detail": "not here"})


class DashboardJudge(Judge):
    """The dashboard answers pages: below 500 (a 503 only when reporting is away, never here), never a redirect
    off the site, never what was sent echoed as markup or a personal identity number."""

    def judge(self, what: str, response: httpx.Response, *, refused: bool = False, sent: str = "") -> None:
        self.sent += 1
        status = response.status_code
        self.statuses[status] += 1
        text = response.text if response.request.method != "HEAD" and not response.headers.get(
            "content-type", "").startswith(("application/pdf", "application/vnd")) else ""
        if status >= 500:
            self.wrong.append(f"{what}: {status} {text[:300]!r}")
        if refused and status < 400:
            self.wrong.append(f"{what}: {status}, not refused")
        location = response.headers.get("location")
        if location is not None and (not location.startswith("/") or location.startswith("//")
                                     or not all("!" <= c <= "~" for c in location)) \
                and not location.startswith("http://issuer.test/"):
            self.wrong.append(f"{what}: {status} to {location[:120]!r}")
        if "<script>alert(1)" in text:
            self.wrong.append(f"{what}: {status} echoes markup")
        if PIN in sent and contains_personal_identity_number(text + (location or "")):
            self.wrong.append(f"{what}: {status} echoes the personal identity number")


def test_campaign34_dashboard() -> None:
    from fastapi.testclient import TestClient

    from styrkedja_dashboard.app import create_app
    from styrkedja_dashboard.settings import DashboardSettings
    from styrkedja_dashboard.web.sessions import COOKIE
    from styrkedja_kit.auth import principal_from_claims

    settings = DashboardSettings(reporting_url="http://reporting.test", lika_url="http://lika.test",
                                 issuer="http://issuer.test")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8100", raise_server_exceptions=False,
                    follow_redirects=False) as client:
        client.app.state.http = client.app.state.oidc.http = httpx.AsyncClient(  # type: ignore[attr-defined]
            transport=httpx.MockTransport(_dashboard_upstream))
        judge = DashboardJudge("dashboard", client, "opaque-token")  # type: ignore[arg-type]

        def sign_in(role: str = "organiser_admin") -> str:
            session = client.app.state.sessions._new()  # type: ignore[attr-defined]
            session.token, session.token_expires_at = "opaque-token", time.time() + 600
            session.principal = principal_from_claims({"sub": "u-1", "roles": [role],
                                                        "organisers": [DASHBOARD_ORGANISER],
                                                        "school_units": [NORTH]})
            client.cookies.clear()
            client.cookies.set(COOKIE, session.id)
            return str(session.csrf)

        csrf = sign_in()
        for path in DASHBOARD_GETS:
            for name in DASHBOARD_PARAMETERS:
                for value in DASHBOARD_VALUES:
                    encoded = value if value.startswith("%") else str(httpx.QueryParams({name: value}))[len(name) + 1:]
                    judge.send(f"GET {path}?{name}={value[:30]!r}", "GET", f"{path}?{name}={encoded}", sent=value)
                judge.send(f"GET {path}?{name} twice", "GET", f"{path}?{name}=1&{name}=2")
                judge.send(f"GET {path}?{name} empty twice", "GET", f"{path}?{name}=&{name}=")
            for method in ("HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE", "FOO"):
                judge.send(f"{method} {path}", method, path)
            for name, value in HEADER_CASES:
                if name in ("host", "content-length"):
                    continue
                judge.send(f"GET {path} {name}: {value[:30]!r}", "GET", path, headers={name: value}, sent=value)
            for cookie in (f"{COOKIE}=a; {COOKIE}=b", f"{COOKIE}={'x' * 8000}", f"{COOKIE}=%00", f"{COOKIE}=\"x\"",
                           f"{COOKIE}={PIN}", "=; ;;", f"{COOKIE}"):
                client.cookies.clear()
                judge.send(f"GET {path} cookie {cookie[:30]!r}", "GET", path, headers={"cookie": cookie}, sent=cookie)
            csrf = sign_in()
        for template in ("/ladda-ner/{}", "/kedjan/export.{}", "/larm/export.{}", "/lika/{}/export.xlsx",
                         "/lika/{}/handlingsplan", "/lika/{}/handlingsplan/export.csv", "/larm/{}/kvittera"):
            for value in PATH_VALUES + ["trend.CSV", "trend.csv%00", "trend.xlsx.csv", "trend.", ".csv", "trend..csv",
                                        "trend.json", "trend.pdf", "trend.csv;x", "../rapport.pdf", "x" * 10_000,
                                        "%2e%2e%2frapport.pdf"]:
                path = template.format(value)
                judge.send(f"GET {path[:60]}", "GET", path)
                if "kvittera" in template:
                    judge.send(f"POST {path[:60]}", "POST", path, data={"csrf": csrf, "kommentar": "x"})
        acknowledge = f"/larm/{ALERT}/kvittera"
        form = f"csrf={csrf}&kommentar=x".encode()
        form_type = {"content-type": "application/x-www-form-urlencoded"}
        for label, content, headers in [
            ("json", json.dumps({"csrf": csrf, "kommentar": "x"}).encode(), {"content-type": "application/json"}),
            ("gzip", gzip.compress(form), {**form_type, "content-encoding": "gzip"}),
            ("charset", form, {"content-type": "application/x-www-form-urlencoded; charset=latin-1"}),
            ("csrf twice", form + f"&csrf={csrf}x".encode(), form_type),
            ("csrf twice, the same", form + f"&csrf={csrf}".encode(), form_type),
            ("kommentar twice", form + b"&kommentar=y", form_type),
            ("kommentar NUL", form + b"%00", form_type),
            ("kommentar lone surrogate", form + b"%ED%A0%80", form_type),
            ("kommentar invalid UTF-8", form + b"%FF", form_type),
            ("kommentar raw invalid UTF-8", form + b"\xff", form_type),
            ("kommentar a PIN", form + PIN.encode(), form_type),
            ("kommentar huge", form + b"x" * 60_000, form_type),
            ("tillbaka elsewhere", form + b"&tillbaka=%2F%2Fevil.example", form_type),
            ("tillbaka twice", form + b"&tillbaka=/larm&tillbaka=//evil.example", form_type),
            ("multipart", b"--x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + csrf.encode()
             + b"\r\n--x--\r\n", {"content-type": "multipart/form-data; boundary=x"}),
            ("multipart broken", b"--x\r\nContent-Disposition: form-data\r\n\r\n", {
                "content-type": "multipart/form-data; boundary=x"}),
            ("multipart no boundary", b"--x\r\n", {"content-type": "multipart/form-data"}),
            ("no content-type", form, {}),
            ("text/plain", form, {"content-type": "text/plain"}),
            ("form of 5000 fields", form + b"&" + b"&".join(b"f%d=1" % n for n in range(5000)), form_type),
            ("BOM", b"\xef\xbb\xbf" + form, form_type),
        ]:
            judge.send(f"POST kvittera {label}", "POST", acknowledge, content=content, headers=headers,
                       sent=PIN if b"1212" in content else "")
            sign_in()
            csrf = sign_in()
            form = f"csrf={csrf}&kommentar=x".encode()
        judge.send("POST /logga-ut chunked", "POST", "/logga-ut", content=iter([form[:5], form[5:]]), headers=form_type)
        for query in ("code=a&state=b&code=c", "state=%00", "error=%3Cscript%3Ealert(1)%3C/script%3E",
                      f"error={PIN}&error_description={PIN}", "code=" + "x" * 9000, "state=" + "\u0662" * 40,
                      "iss=http://evil.example&code=x&state=y"):
            judge.send(f"GET /auth/callback?{query[:40]}", "GET", f"/auth/callback?{query}", sent=query)
    report("dashboard", judge)


def raw(url: str, data: bytes) -> bytes:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=20) as sock:
        sock.sendall(data)
        answer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            answer += chunk
    return answer


def raw_cases(host: str, token: str, post: str) -> list[tuple[str, bytes]]:
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n"
    json_type = b"Content-Type: application/json\r\n"
    close = b"Connection: close\r\n"
    h = b"Host: " + host.encode() + b"\r\n"
    p = post.encode()
    return [
        ("absolute-form", b"GET http://evil.example/healthz HTTP/1.1\r\n" + h + close + b"\r\n"),
        ("absolute-form with a token", b"POST http://evil.example" + p + b" HTTP/1.1\r\n" + h + auth + json_type
         + b"Content-Length: 2\r\n" + close + b"\r\n{}"),
        ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\n" + h + close + b"\r\n"),
        ("CONNECT", b"CONNECT evil.example:443 HTTP/1.1\r\n" + h + close + b"\r\n"),
        ("HTTP/1.0 without Host", b"GET /healthz HTTP/1.0\r\n\r\n"),
        ("HTTP/1.1 without Host", b"GET /healthz HTTP/1.1\r\n" + close + b"\r\n"),
        ("two Hosts", b"GET /healthz HTTP/1.1\r\n" + h + b"Host: evil.example\r\n" + close + b"\r\n"),
        ("a header name with a space", b"GET /healthz HTTP/1.1\r\n" + h + b"X A: b\r\n" + close + b"\r\n"),
        ("obs-fold", b"GET /healthz HTTP/1.1\r\n" + h + b"X-A: a\r\n b\r\n" + close + b"\r\n"),
        ("gzip, chunked", b"POST " + p + b" HTTP/1.1\r\n" + h + auth + json_type
         + b"Transfer-Encoding: gzip, chunked\r\n" + close + b"\r\n2\r\n{}\r\n0\r\n\r\n"),
        ("chunked, chunked", b"POST " + p + b" HTTP/1.1\r\n" + h + auth + json_type
         + b"Transfer-Encoding: chunked, chunked\r\n" + close + b"\r\n2\r\n{}\r\n0\r\n\r\n"),
        ("chunked twice", b"POST " + p + b" HTTP/1.1\r\n" + h + auth + json_type
         + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n" + close + b"\r\n2\r\n{}\r\n0\r\n\r\n"),
        ("identity", b"POST " + p + b" HTTP/1.1\r\n" + h + auth + json_type
         + b"Transfer-Encoding: identity\r\nContent-Length: 2\r\n" + close + b"\r\n{}"),
        ("a huge chunk extension", b"POST " + p + b" HTTP/1.1\r\n" + h + auth + json_type
         + b"Transfer-Encoding: chunked\r\n" + close + b"\r\n2;x=" + b"a" * 100_000 + b"\r\n{}\r\n0\r\n\r\n"),
        ("a trailer naming the length", b"POST " + p + b" HTTP/1.1\r\n" + h + auth + json_type
         + b"Transfer-Encoding: chunked\r\n" + close + b"\r\n2\r\n{}\r\n0\r\nContent-Length: 99\r\n\r\n"),
        ("a body of a chunk shorter than said", b"POST " + p + b" HTTP/1.1\r\n" + h + auth + json_type
         + b"Transfer-Encoding: chunked\r\n" + close + b"\r\n5\r\n{}\r\n0\r\n\r\n"),
        ("pipelined after a refusal", b"POST " + p + b" HTTP/1.1\r\n" + h + auth + b"Content-Type: text/plain\r\n"
         + b"Content-Length: 2\r\n\r\n{}GET /healthz HTTP/1.1\r\n" + h + close + b"\r\n"),
        ("expect without a body", b"POST " + p + b" HTTP/1.1\r\n" + h + auth + json_type
         + b"Expect: 100-continue\r\nContent-Length: 2\r\n" + close + b"\r\n"),
        ("a lower-case method", b"get /healthz HTTP/1.1\r\n" + h + close + b"\r\n"),
        ("tabs in the request line", b"GET\t/healthz\tHTTP/1.1\r\n" + h + close + b"\r\n"),
        ("a fragment in the target", b"GET /healthz#x HTTP/1.1\r\n" + h + close + b"\r\n"),
        ("a bare LF", b"GET /healthz HTTP/1.1\n" + h.replace(b"\r\n", b"\n") + close.replace(b"\r\n", b"\n") + b"\n"),
        ("a space before the colon", b"GET /healthz HTTP/1.1\r\n" + h + b"Content-Length : 0\r\n" + close + b"\r\n"),
        ("a NUL in a header name", b"GET /healthz HTTP/1.1\r\n" + h + b"X\x00A: b\r\n" + close + b"\r\n"),
        ("a PIN in the method", b"19121212-1212 /healthz HTTP/1.1\r\n" + h + close + b"\r\n"),
        ("a PIN in a header name", b"GET /healthz HTTP/1.1\r\n" + h + b"X-19121212-1212: b\r\n" + close + b"\r\n"),
        ("a Content-Length of 20 digits", b"POST " + p + b" HTTP/1.1\r\n" + h + auth + json_type
         + b"Content-Length: 99999999999999999999\r\n" + close + b"\r\n{}"),
        ("UTF-8 in a header value", b"GET /healthz HTTP/1.1\r\n" + h + b"X-A: \xc3\xa5\xed\xa0\x80\r\n" + close
         + b"\r\n"),
        ("a websocket upgrade with a token", b"GET " + p + b" HTTP/1.1\r\n" + h + auth + b"Upgrade: websocket\r\n"
         b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        ("a websocket upgrade of the probe", b"GET /healthz HTTP/1.1\r\n" + h + b"Upgrade: websocket\r\n"
         b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        ("a websocket upgrade, version 99", b"GET /healthz HTTP/1.1\r\n" + h + auth + b"Upgrade: websocket\r\n"
         b"Connection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 99\r\n\r\n"),
        ("h2c upgrade", b"GET /healthz HTTP/1.1\r\n" + h + b"Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
         b"HTTP2-Settings: AAMAAABkAAQAAP__\r\n" + close + b"\r\n"),
        ("the HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        ("an authorization of raw bytes", b"GET " + p + b" HTTP/1.1\r\n" + h + b"Authorization: Bearer \xff\xfe\r\n"
         + close + b"\r\n"),
    ]


@pytest.mark.parametrize("name", ["assessment", "forecast", "lika", "reporting"])
def test_campaign34_raw(name: str, infrastructure: Any, token_issuer: Any) -> None:
    import re

    service = start_service(name, infrastructure, token_issuer)
    token = token_issuer.mint(roles=["platform", "principal", "organiser_admin", "ops"], organisers=[ORGANISER],
                              school_units=[UNIT], subject="fuzz", client_id="platform-fuzz")
    lines: list[str] = []
    try:
        document = httpx.get(f"{service.url}/openapi.json", headers={"Authorization": f"Bearer {token}"}).json()
        post = next(fill(t, item["post"]) for t, item in document["paths"].items() if "post" in item)
        host = service.url.split("//", 1)[1]
        for label, data in raw_cases(host, token, post):
            answer = raw(service.url, data)
            statuses = re.findall(rb"HTTP/1\.[01] (\d{3})", answer)
            kinds = re.findall(rb"(?i)content-type: ([^\r]+)", answer)
            lines.append(f"{label}: {[s.decode() for s in statuses]} {[k.decode() for k in kinds]}")
            if any(int(s) >= 500 for s in statuses) or contains_personal_identity_number(
                    answer.decode("utf-8", "replace")):
                lines.append(f"  WRONG {answer[:400]!r}")
    finally:
        service.stop()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}-raw.txt").write_text("\n".join(lines) + "\n")
    print(f"{name}: {len(lines)} raw cases, {sum('WRONG' in line for line in lines)} wrong", flush=True)
