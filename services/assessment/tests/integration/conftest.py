"""Every request of these tests carries a real token from the session's dev issuer: the service
verifies it like any other (no bypass). The default is a platform client of organiser 2999."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text

from styrkedja_assessment.settings import AssessmentSettings
from styrkedja_devstack.pytest_plugin import token_fixtures

ORGANISER = "2999"

_issuer, client_token = token_fixtures(
    lambda issuer: issuer.mint(roles=["platform"], organisers=[ORGANISER], client_id="platform-test"))


@pytest.fixture
def settings(fresh_database, infrastructure) -> AssessmentSettings:
    """The service on a fresh database, its relay off (a module with other needs defines its own)."""
    return AssessmentSettings(database_url=fresh_database("styrkedja_assessment"), outbox_enabled=False,
                              kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers)


def _assessment(student: str, **overrides: Any) -> dict[str, Any]:
    body = {"organiser_id": ORGANISER, "school_unit_code": "12345678", "group_id": "7A", "student_id": student,
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01", "kind": "assessment",
            "scale": "AF", "value": "C", "school_year": "2026/27", "term": "HT", "round": 1,
            "assessed_on": "2026-10-01"}
    return body | overrides


@pytest.fixture
def assessment() -> Callable[..., dict[str, Any]]:
    """A request body of one assessment (a C in mathematics, organiser 2999) of this student, with
    `overrides`: `assessment("s-1", value="A")`."""
    return _assessment


@pytest.fixture
def scalar(db) -> Callable[..., Awaitable[Any]]:
    """The one value of a query on the service's database: `await scalar("SELECT count(*) FROM …")`."""
    async def scalar(sql: str, **params: Any) -> Any:
        async with db.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()

    return scalar
