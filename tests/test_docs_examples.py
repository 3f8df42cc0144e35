"""Every example request body in the README and the docs is one the service it is sent to accepts.

The examples are `curl … -X POST|PUT|PATCH http://127.0.0.1:<port>/<path> … -d '<json>'` in fenced blocks:
the port names the service (as `make run` starts them), the path its route. Each body must be JSON, must
validate against that route's request schema in the service's own OpenAPI document (the schema a
platform's client is generated from), and a directory change's `data` against the event contract its
`type` names. A fenced ```json block must be a CloudEvent that decodes by the contracts (no other JSON
block may stand in the docs without saying what it is). The services' apps are built, never started.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from test_docs_links import _FENCE, ROOT, markdown_files

from styrkedja_contracts import EVENT_MODELS, decode_event
from styrkedja_devstack.services import SERVICES

PORTS = {spec.port: spec.name for spec in SERVICES}
_URL = re.compile(r"^https?://127\.0\.0\.1:(\d+)(/[^?#\s]*)")
_DATA_FLAGS = ("-d", "--data", "--data-raw", "--data-binary")


def fenced_blocks(text: str) -> Iterator[tuple[str, str]]:
    """(info string, body) of every fenced block."""
    for fence in _FENCE.finditer(text):
        head, _, rest = fence.group(0).partition("\n")
        yield head.strip("`~ \t"), rest.rsplit("\n", 1)[0]


def example_requests(text: str) -> list[tuple[str, str, str, str]]:
    """(method, port, path, body) of every curl in a fenced block that sends a body."""
    found = []
    for _, body in fenced_blocks(text):
        if not re.search(r"(?m)^\s*(?:\$\s*)?curl\b", body):
            continue  # a block of program output (a log line, a summary) is prose in a box, not shell words
        words = shlex.split(body.replace("\\\n", " "), comments=True)
        starts = [i for i, word in enumerate(words) if word == "curl"]
        for start, end in zip(starts, [*starts[1:], len(words)][: len(starts)], strict=True):
            call = words[start:end]
            data = next((call[i + 1] for i, w in enumerate(call[:-1]) if w in _DATA_FLAGS), None)
            url = next((m for w in call if (m := _URL.match(w))), None)
            if data is None or url is None:
                continue
            method = next((call[i + 1] for i, w in enumerate(call[:-1]) if w in ("-X", "--request")), "POST")
            found.append((method.upper(), url.group(1), url.group(2), data))
    return found


@cache
def openapi(service: str) -> dict[str, Any]:
    """The service's OpenAPI document, from its app (built with placeholder settings, never started)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STYRKEDJA_AUTH_ISSUER", "http://127.0.0.1:9")
        env.setenv("STYRKEDJA_DATABASE_URL", "postgresql+asyncpg://docs@127.0.0.1:9/docs")
        document: dict[str, Any] = importlib.import_module(f"styrkedja_{service}.main").app.openapi()
    return document


def request_schema(service: str, method: str, path: str) -> dict[str, Any]:
    document = openapi(service)
    for template, operations in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            schema = operations[method.lower()]["requestBody"]["content"]["application/json"]["schema"]
            return {**schema, "components": document["components"]}
    raise AssertionError(f"{service} has no {method} {path}")


def body_problems(method: str, port: str, path: str, body: str) -> list[str]:
    service = PORTS.get(int(port))
    if service is None:
        return [f"port {port} is no service of `make run` ({PORTS})"]
    try:
        value = json.loads(body)
    except json.JSONDecodeError as error:
        return [f"{method} {path}: not JSON ({error})"]
    validator = jsonschema.Draft202012Validator(request_schema(service, method, path))
    problems = [f"{method} {path}: {'.'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
                for e in validator.iter_errors(value)]
    if path == "/v1/directory/changes" and not problems:
        for index, item in enumerate(value["items"]):
            try:
                EVENT_MODELS[item["type"]].model_validate(item["data"])
            except Exception as refused:  # pydantic's ValidationError: the contract's own words
                problems.append(f"items.{index} ({item['type']}): {refused}")
    return problems


def json_block_problems(text: str) -> list[str]:
    problems = []
    for info, body in fenced_blocks(text):
        if info.split()[:1] != ["json"]:
            continue
        try:
            decode_event(body.encode())
        except Exception as refused:
            problems.append(f"a ```json block that is no CloudEvent of the contracts ({refused}): {body[:60]!r}")
    return problems


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_example_body_is_accepted_by_its_schema(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    problems = [p for request in example_requests(text) for p in body_problems(*request)]
    assert problems + json_block_problems(text) == []


def test_the_docs_show_the_platform_writes() -> None:
    shown = {(method, path) for page in (ROOT / "README.md", ROOT / "docs" / "platforms.md")
             for method, _, path, _ in example_requests(page.read_text(encoding="utf-8"))}
    assert {("POST", "/v1/assessments"), ("POST", "/v1/assessments/batch"), ("POST", "/v1/forecasts"),
            ("POST", "/v1/directory/changes"), ("POST", "/v1/support-interventions")} <= shown
    lika = {(m, path) for m, _, path, _ in example_requests((ROOT / "docs" / "lika.md").read_text(encoding="utf-8"))}
    assert {("POST", "/v1/self-assessments"), ("PATCH", "/v1/self-assessments/SELF_ASSESSMENT_ID/ratings")} <= lika


def test_the_checks_can_fail() -> None:
    text = ("```sh\ncurl -s -X POST http://127.0.0.1:8102/v1/forecasts -H 'content-type: application/json' -d '{\n"
            '  "organiser_id": "2999", "value": "SOMEWHAT"}\'\n'
            "curl -s http://127.0.0.1:8104/v1/directory/changes -d '{\"items\": [{\"type\": "
            "\"se.styrkedja.organisation.unit_upserted.v1\", \"data\": {\"unit_type\": \"group\", \"unit_id\": \"7A\", "
            "\"organiser_id\": \"2999\", \"name\": \"7A\", \"updated_at\": \"2026-08-14T06:30:00+02:00\"}}]}'\n"
            "```\n```json\n{\"a\": 1}\n```\n")
    requests = example_requests(text)
    assert [(m, p, path) for m, p, path, _ in requests] == [("POST", "8102", "/v1/forecasts"),
                                                            ("POST", "8104", "/v1/directory/changes")]
    forecast = " ".join(body_problems(*requests[0]))
    assert "school_unit_code" in forecast and "SOMEWHAT" in forecast
    assert "parent_id: is required" in " ".join(body_problems(*requests[1]))  # the contract, not the schema
    assert len(json_block_problems(text)) == 1


@pytest.mark.integration
@pytest.mark.postgres_only
def test_the_examples_are_accepted_by_the_services_in_the_order_shown(infrastructure, token_issuer) -> None:
    """The README's and the platform guide's requests, sent in order to the services (in-process, on fresh
    databases): a schema can be met by a body a rule still refuses (a forecast outside any window, a
    retraction's revision), and a newcomer copies the whole sequence."""
    import httpx
    from inprocess import start_service

    pages = [ROOT / "README.md", ROOT / "docs" / "platforms.md", ROOT / "docs" / "lika.md"]
    # an action plan exists once a self-assessment is published, which takes every indicator rated: the
    # guide's edit of one is checked by its schema above, not sent here
    requests = [r for page in pages for r in example_requests(page.read_text(encoding="utf-8"))
                if "/action-plan/" not in r[2]]
    token = token_issuer.mint(roles=["platform", "principal"], organisers=["2999"], school_units=["29990011"],
                              client_id="my-platform", subject="docs")
    running = {name: start_service(name, infrastructure, token_issuer) for name in {PORTS[int(r[1])] for r in requests}}
    try:
        answers: list[str] = []
        ids: dict[str, str] = {}
        for method, port, path, body in requests:
            service = running[PORTS[int(port)]]
            # a placeholder in a path stands for the id an earlier answer gave (the guide says: keep the id)
            path = re.sub(r"[A-Z][A-Z_]*_ID", lambda m, known=ids: known[m.group(0)], path)
            answer = httpx.request(method, service.url + path, content=body.encode(), timeout=30,
                                   headers={"Authorization": f"Bearer {token}", "content-type": "application/json"})
            answers.append(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
            if answer.status_code < 300:
                body = answer.json()
                first = body["items"][0] if isinstance(body.get("items"), list) and body["items"] else body
                ids.update({key.upper(): value for key, value in first.items()
                            if key.endswith("_id") and isinstance(value, str)})
        assert [a for a in answers if not a.split(": ", 1)[1].startswith(("200 ", "201 "))] == [], answers
    finally:
        for service in running.values():
            service.stop()
