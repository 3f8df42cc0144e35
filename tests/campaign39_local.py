"""Round 39's hand-made cases the fuzzer does not make: NOT collected in CI (no `test_` prefix); run it explicitly:

    python -m pytest tests/campaign39_local.py -q -s -p no:randomly -o timeout=0 -n 0

Against each service in-process (`inprocess.start_service`, reporting fed `scope_world`), with every narrow token
(tests/scope_world.py), through campaign 35's judging proxy (`NamingFindings`: a 5xx, a read past the token's scope,
a small count shown to a suppressed scope, a 400/422 naming no field and rule): every GET operation of the service's
OpenAPI with each of its query parameters sent twice (the same value, then two values); headers (a 16 kB
Authorization, two Authorization headers, `Authorization: bearer` in odd case and spacing, a Content-Type with a
charset of UTF-16, an Accept of 9 kB); and on each POST operation a body nested 10,000 deep, an array of 100,000
items, and integers at and past 2^31, 2^53 and 2^63. The findings go to $CAMPAIGN_OUT (default
/tmp/styrkedja-campaign39)/<service>-hand.txt. It asserts nothing: it is read."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from campaign35_local import judging_proxy, mint_all
from campaign35_local import report as report35
from campaign38_local import NamingFindings
from inprocess import start_service
from scope_world import fed, narrow_tokens

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

OUT = Path(os.environ.get("CAMPAIGN_OUT", "/tmp/styrkedja-campaign39"))
#: a value for a query parameter of each JSON Schema type (the twice-sent one is what it is, not whether it is valid)
SAMPLE = {"integer": "1", "number": "1", "boolean": "true", "string": "2999"}
NUMBERS = [2**31 - 1, 2**31, 2**53, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**400]


def _schema_type(parameter: dict[str, Any]) -> str:
    schema = parameter.get("schema") or {}
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("type") in SAMPLE:
            return str(option["type"])
        if "enum" in option and option["enum"]:
            return "enum:" + str(option["enum"][0])
    return "string"


def _value(parameter: dict[str, Any]) -> str:
    kind = _schema_type(parameter)
    return kind[5:] if kind.startswith("enum:") else SAMPLE[kind]


def _requests(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path with query, httpx keyword arguments) of every hand-made case of the document."""
    cases: list[tuple[str, str, dict[str, Any]]] = []
    for path, operations in document.get("paths", {}).items():
        if "{" in path or path in ("/readyz", "/metrics"):
            continue  # (paths with ids: the fuzzer's; here the query and the bodies. The probes: no broker here)
        for method, operation in operations.items():
            if method == "get":
                query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
                for parameter in query:
                    name, value = parameter["name"], _value(parameter)
                    cases.append(("GET", f"{path}?{name}={value}&{name}={value}", {}))
                    cases.append(("GET", f"{path}?{name}={value}&{name}={value}x", {}))
                for headers in ({"Authorization": "Bearer " + "a" * 16_000}, {"Accept": "application/json," * 500},
                                {"Accept": "text/html;q=0.5;q=0.7"}):
                    cases.append(("GET", path, {"headers": headers, "replace_auth": "Authorization" in headers}))
            elif method == "post":
                cases.append(("POST", path, {"content": b"[" * 10_000 + b"]" * 10_000,
                                             "headers": {"Content-Type": "application/json"}}))
                cases.append(("POST", path, {"content": b'{"items": [' + b"{}," * 99_999 + b"{}]}",
                                             "headers": {"Content-Type": "application/json"}}))
                cases.append(("POST", path, {"content": "{}".encode("utf-16"),
                                             "headers": {"Content-Type": "application/json; charset=utf-16"}}))
                for number in NUMBERS:
                    body = f'{{"items": [{{"revision": {number}, "year": {number}, "round": {number}}}]}}'
                    cases.append(("POST", path, {"content": body.encode(),
                                                 "headers": {"Content-Type": "application/json"}}))
    return cases


@pytest.mark.parametrize("name", ["assessment", "forecast", "lika", "reporting"])
def test_campaign39_hand_made(name: str, infrastructure: Any, token_issuer: Any) -> None:
    import uvicorn

    from styrkedja_devstack.postgres import free_port

    service = start_service(name, infrastructure, token_issuer)
    findings = NamingFindings()
    server = None
    try:
        if name == "reporting":
            asyncio.run(fed(service.database_url))
        tokens, broad = mint_all(token_issuer)
        narrows = {tokens[n.label]: n for n in narrow_tokens()}
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(judging_proxy(service.url, narrows, findings), host="127.0.0.1",
                                               port=port, log_level="warning", lifespan="off"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        document = httpx.get(f"{service.url}/openapi.json", headers={"authorization": f"Bearer {broad}"}).json()
        cases = _requests(document)
        sent = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for narrow in narrow_tokens():
                for method, path, options in cases:
                    options = dict(options)
                    headers = dict(options.pop("headers", {}))
                    if not options.pop("replace_auth", False):
                        headers["Authorization"] = f"Bearer {tokens[narrow.label]}"
                    try:
                        client.request(method, path, headers=headers, **options)
                    except httpx.HTTPError as error:  # a connection the server closed: said, not judged
                        findings.echoes.append(f"{narrow.label}: {method} {path[:120]}: {type(error).__name__}")
                    sent += 1
            # two Authorization headers, and the scheme in odd case and spacing, once per GET path
            for method, path, _ in cases[:50]:
                if method == "GET":
                    two = [("Authorization", f"Bearer {broad}"), ("Authorization", "Bearer other")]
                    client.request(method, path, headers=httpx.Headers(two))
                    client.request(method, path, headers={"Authorization": f"bEaReR   {broad}"})
                    sent += 2
        findings.echoes.insert(0, f"hand-made requests sent: {sent}")
        print(f"{name}: {sent} sent", flush=True)
        report35(f"{name}-hand", findings, OUT)
    finally:
        if server is not None:
            server.should_exit = True
        service.stop()
