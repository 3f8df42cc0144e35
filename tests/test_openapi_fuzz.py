"""Schemathesis against each service's own OpenAPI document: a bounded, seeded run of generated
requests (valid and invalid) per service, asserting no 5xx and that every response is documented
(status code, content type, schema). Every crash found by the first fuzzing of the services is
also sent here as an explicit example.

Each service runs in-process (uvicorn in a thread) on a fresh, migrated database, its outbox relay
and consumer off: the run is about the HTTP door, not the pipeline.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from styrkedja_devstack.postgres import free_port
from styrkedja_kit.migrations import upgrade

pytestmark = pytest.mark.integration

SEED = 20261201
#: generated requests per service (split over its operations and both generation modes)
EXAMPLES_PER_SERVICE = 400
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: ops endpoints left out: /readyz asks the broker on every call (slow), /metrics is plain text
SKIPPED_PATHS = {"/readyz", "/metrics"}

SERVICES = {
    "assessment": ("styrkedja_assessment", "AssessmentSettings"),
    "forecast": ("styrkedja_forecast", "ForecastSettings"),
    "lika": ("styrkedja_lika", "LikaSettings"),
    "reporting": ("styrkedja_reporting", "ReportingSettings"),
}


@dataclass
class RunningService:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def start_service(name: str, infrastructure: Any) -> RunningService:
    package, settings_class = SERVICES[name]
    database_url = infrastructure.create_database(f"t_fuzz_{name}_{uuid.uuid4().hex[:8]}")
    upgrade(package, database_url)
    settings_type = getattr(importlib.import_module(f"{package}.settings"), settings_class)
    service_settings = settings_type(database_url=database_url, outbox_enabled=False, consumer_enabled=False,
                                     kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                                     log_level="WARNING")
    app = importlib.import_module(f"{package}.main").create_app(service_settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, name=f"fuzz-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.05)
    return RunningService(f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture(scope="module", params=list(SERVICES))
def service(request: pytest.FixtureRequest, infrastructure: Any) -> Iterator[tuple[str, RunningService]]:
    running = start_service(request.param, infrastructure)
    try:
        yield request.param, running
    finally:
        running.stop()


def test_generated_requests_never_get_a_5xx_and_every_response_is_documented(service):
    name, running = service
    schema = schemathesis.openapi.from_url(f"{running.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.path not in SKIPPED_PATHS]
    assert operations, f"{name}: no operations in its OpenAPI document"
    per_run = max(10, EXAMPLES_PER_SERVICE // (2 * len(operations)))
    failures: list[str] = []
    session = None
    calls: list[int] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @seed(SEED)
            @settings(max_examples=per_run, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                calls.append(1)
                case.call_and_validate(base_url=running.url, session=session, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:  # nothing to get wrong: an operation without parameters or body
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as error:  # collect every operation's failure, then fail once
                failures.append(f"{operation.label} ({mode.value}): {type(error).__name__}: {str(error)[:1500]}")
    assert not failures, f"{name}:\n" + "\n\n".join(failures)
    print(f"{name}: {len(calls)} generated requests over {len(operations)} operations")
    assert len(calls) >= 100, f"{name}: only {len(calls)} requests were generated"


# --- the crashes (and slips) the first fuzzing found, as explicit examples -----------------------

def _assessment(**overrides: Any) -> dict[str, Any]:
    return {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01", "kind": "assessment",
            "scale": "AF", "value": "F", "unmet_criteria": ["Taluppfattning"], "school_year": "2026/27",
            "term": "HT", "round": 1, "assessed_on": "2026-10-01"} | overrides


def _forecast(**overrides: Any) -> dict[str, Any]:
    return {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
            "school_year": "2098/99", "term": "HT", "value": "ACCEPTABLE"} | overrides


EXPLICIT = {
    "assessment": [
        ("POST", "/v1/assessments", _assessment(unmet_criteria=["nul\x00byte"]), "unmet_criteria.0",
         "no_control_characters"),
        ("POST", "/v1/assessments", _assessment(revision=2147483647 + 1), "revision", "less_than_equal"),
        ("POST", "/v1/assessments", _assessment(revision="1"), "revision", "int_type"),
        ("POST", "/v1/assessments", _assessment(round=True), "round", "int_type"),
        ("POST", "/v1/assessments", _assessment(student_id="s-19121212\u20131212"), "student_id",
         "no_personal_identity_number"),
        ("POST", "/v1/assessments", _assessment(unmet_criteria=["19121212\u00a01212"]), "unmet_criteria.0",
         "no_personal_identity_number"),
        ("POST", "/v1/assessments", _assessment(unmet_criteria=["\uff11\uff19\uff11\uff12\uff11\uff12\uff11\uff12"
                                                                "-\uff11\uff12\uff11\uff12"]),
         "unmet_criteria.0", "no_personal_identity_number"),
        ("POST", "/v1/assessments", _assessment(school_unit_code="\uff11" * 8), "school_unit_code", "ascii_only"),
        ("POST", "/v1/assessments", _assessment(organiser_id="\u0662\u0669\u0669\u0669"), "organiser_id",
         "ascii_only"),
        ("POST", "/v1/assessments", _assessment(subject_code="GRGRXYZ01"), "subject_code", "unknown_subject_code"),
        ("POST", "/v1/assessments", _assessment(unmet_criteria=["lone \ud800"]), "unmet_criteria.0",
         "no_control_characters"),
        ("POST", f"/v1/assessments/{uuid.uuid4()}/retract", {"reason": "fel\x00"}, "reason",
         "no_control_characters"),
        ("POST", f"/v1/assessments/{uuid.uuid4()}/retract", {"revision": 2**31}, "revision", "less_than_equal"),
    ],
    "forecast": [
        ("POST", "/v1/forecasts", _forecast(revision=2**31), "revision", "less_than_equal"),
        ("POST", "/v1/forecasts", _forecast(year="7"), "year", "int_type"),
        ("POST", "/v1/forecasts", _forecast(school_year="9999/00"), "school_year", "value_error"),
        ("POST", "/v1/forecasts", _forecast(group_id="g-121212\u20111212"), "group_id",
         "no_personal_identity_number"),
        ("POST", "/v1/forecasts", _forecast(school_unit_code="\u0661" * 8), "school_unit_code", "ascii_only"),
        ("POST", f"/v1/forecasts/{uuid.uuid4()}/withdraw", {"revision": "3"}, "revision", "int_type"),
    ],
    "reporting": [
        ("GET", "/v1/results/assessments", {"level": "organiser", "organiser_id": "29\x0099"}, "organiser_id",
         "no_control_characters"),
        ("GET", "/v1/lika/school-units", {"organiser_id": "\uff12\uff19\uff19\uff19"}, "organiser_id", "ascii_only"),
        ("GET", "/v1/lika/school-units", {"organiser_id": "19121212\u20131212"}, "organiser_id",
         "no_personal_identity_number"),
    ],
}
PENDING: dict[str, str] = {}


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(reason=PENDING[name], strict=True)) if name in PENDING else name
    for name in EXPLICIT])
def test_the_crashes_found_by_fuzzing_are_problems_naming_field_and_rule(name, infrastructure):
    running = start_service(name, infrastructure)
    try:
        with httpx.Client(base_url=running.url) as client:
            for method, path, body, field, rule in EXPLICIT[name]:
                # escaped: a lone surrogate cannot be encoded as UTF-8, only as "\\ud800"
                if method == "GET":
                    response = client.get(path, params=body)
                else:
                    response = client.request(method, path, content=json.dumps(body).encode(),
                                              headers={"content-type": "application/json"})
                assert response.status_code == 422, (path, body, response.status_code, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
                errors = [(e["field"], e["rule"]) for e in response.json()["errors"]]
                assert (field, rule) in errors, (path, errors)
    finally:
        running.stop()

