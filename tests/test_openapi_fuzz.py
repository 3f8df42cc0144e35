"""Schemathesis against each service's own OpenAPI document: a bounded, seeded run of generated
requests (valid and invalid) per service, asserting no 5xx and that every response is documented
(status code, content type, schema). Every crash found by the first fuzzing of the services is
also sent here as an explicit example.

Each service runs in-process (uvicorn in a thread) on a fresh, migrated database, its outbox relay
and consumer off: the run is about the HTTP door, not the pipeline. Every service verifies tokens of
the session's dev issuer; the fuzz sends a broad valid token (so requests reach the handlers, and an
organiser it does not hold is a documented 403), and every operation is also called without a token
and with a bad one: a 401 that must be documented (problem+json, bearer security scheme).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from inprocess import BROAD_ROLES, ORGANISER, SERVICES, RunningService, auth, broad_token, start_service
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

#: what the hostile tests import from here (kept after the services moved to tests/inprocess.py)
__all__ = ["BROAD_ROLES", "ORGANISER", "SERVICES", "RunningService", "auth", "broad_token", "schema_of",
           "start_service"]

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

#: CI's run is bounded and seeded; a local run harder than CI's: STYRKEDJA_FUZZ_EXAMPLES=20000
#: STYRKEDJA_FUZZ_SEED=random (a new seed each run, printed when it fails)
_SEED = os.environ.get("STYRKEDJA_FUZZ_SEED", "20261201")
SEED = random.randrange(2**32) if _SEED == "random" else int(_SEED)
#: generated requests per service (split over its operations and both generation modes)
EXAMPLES_PER_SERVICE = int(os.environ.get("STYRKEDJA_FUZZ_EXAMPLES", "400"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: ops endpoints left out: /readyz asks the broker on every call (slow), /metrics is plain text
SKIPPED_PATHS = {"/readyz", "/metrics"}
#: need no token: the probes and metrics
OPEN_PATHS = {"/healthz", "/readyz", "/metrics"}


def schema_of(running: RunningService, issuer: Any) -> Any:
    """The service's OpenAPI document (itself behind the token, like every route but the probes)."""
    return schemathesis.openapi.from_url(f"{running.url}/openapi.json", headers=auth(issuer))


@pytest.fixture
def service(running: tuple[str, RunningService]) -> tuple[str, RunningService]:
    """The service under test: the session's in-process one (`running` in tests/conftest.py)."""
    return running


def test_generated_requests_never_get_a_5xx_and_every_response_is_documented(service, token_issuer):
    name, running = service
    headers = auth(token_issuer)
    schema = schema_of(running, token_issuer)
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
            @settings(max_examples=per_run, deadline=None, database=None, derandomize=_SEED != "random",
                      suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                calls.append(1)
                case.call_and_validate(base_url=running.url, session=session, headers=headers, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:  # nothing to get wrong: an operation without parameters or body
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as error:  # collect every operation's failure, then fail once
                failures.append(f"{operation.label} ({mode.value}): {type(error).__name__}: {str(error)[:1500]}")
    assert not failures, f"{name} (seed {SEED}):\n" + "\n\n".join(failures)
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
        # round 26: one column grouped twice, a 500 where the cells are
        ("GET", "/v1/results/forecasts", {"level": "organiser", "organiser_id": "2999", "unit_id": "2999",
                                          "split": ["year", "year"]}, "split", "unique"),
    ],
}
PENDING: dict[str, str] = {}


@pytest.mark.parametrize("running", [
    pytest.param(name, marks=pytest.mark.xfail(reason=PENDING[name], strict=True)) if name in PENDING else name
    for name in EXPLICIT], indirect=True)
def test_the_crashes_found_by_fuzzing_are_problems_naming_field_and_rule(running, token_issuer):
    name, service = running
    with httpx.Client(base_url=service.url, headers=auth(token_issuer)) as client:
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


# --- access in the OpenAPI documents --------------------------------------------------------------

def expect_tokens(name: str, running: RunningService) -> None:
    """Reporting's switch to tokens lands from its own branch: until then it answers without one."""
    if name == "reporting" and httpx.get(f"{running.url}/openapi.json").status_code == 200:
        pytest.xfail("reporting does not require tokens on this branch yet")


def test_every_operation_documents_its_bearer_token_and_401_403_as_problems(service, token_issuer):
    """Every operation but the probes names the bearer scheme and documents 401 and 403 as
    problem+json; an operation whose answer depends on a token is never left undocumented."""
    name, running = service
    expect_tokens(name, running)
    assert httpx.get(f"{running.url}/openapi.json").status_code == 401
    document = httpx.get(f"{running.url}/openapi.json", headers=auth(token_issuer)).json()
    scheme = document.get("components", {}).get("securitySchemes", {}).get("bearer")
    assert scheme is not None, f"{name}: no bearer security scheme"
    assert scheme == {**scheme, "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    missing = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path in OPEN_PATHS:  # no token needed; one sent is checked, a bad one a 401 (round 30o)
                assert operation.get("security") == [{}, {"bearer": []}], (method, path)
                assert "WWW-Authenticate" in operation["responses"]["401"]["headers"], (method, path)
                continue
            responses = operation.get("responses", {})
            if operation.get("security") != [{"bearer": []}]:
                missing.append(f"{method.upper()} {path}: security")
            for status in ("401", "403"):
                content = responses.get(status, {}).get("content", {})
                if "application/problem+json" not in content:
                    missing.append(f"{method.upper()} {path}: {status}")
            if "WWW-Authenticate" not in responses.get("401", {}).get("headers", {}):
                missing.append(f"{method.upper()} {path}: 401 WWW-Authenticate")
    assert not missing, f"{name}: " + "; ".join(missing)


def _unauthenticated_call(operation: Any, url: str, headers: dict[str, str], wrong: list[str]) -> None:
    @seed(SEED)
    @settings(max_examples=1, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(base_url=url, headers=headers,
                                          checks=[status_code_conformance, content_type_conformance])
        challenge = {k.lower(): v for k, v in response.headers.items()}.get("www-authenticate", [""])
        if response.status_code != 401 or not challenge[0].startswith("Bearer "):
            wrong.append(f"{operation.label} {sorted(headers)}: {response.status_code}")

    try:
        run()
    except Exception as error:
        wrong.append(f"{operation.label} {sorted(headers)}: {type(error).__name__}: {str(error)[:500]}")


def test_every_operation_without_a_valid_token_is_a_documented_401(service, token_issuer):
    """Each operation once with no token and once with an expired one: 401, problem+json, the
    `WWW-Authenticate` challenge, and conforming to the operation's own documentation."""
    name, running = service
    expect_tokens(name, running)
    schema = schema_of(running, token_issuer)
    expired = token_issuer.mint(roles=BROAD_ROLES, organisers=[ORGANISER], ttl_seconds=-120)
    wrong: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        if operation.path not in OPEN_PATHS:
            for headers in ({}, {"Authorization": f"Bearer {expired}"}):
                _unauthenticated_call(operation, running.url, headers, wrong)
    assert not wrong, f"{name}: " + "\n".join(wrong)
