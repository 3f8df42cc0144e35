"""Shared helpers for the contracts tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest


@pytest.fixture
def pnr() -> str:
    """A valid personnummer in the YYMMDD-NNNN form."""
    from styrkedja_contracts.identifiers import luhn_check_digit

    digits = "900101123" + luhn_check_digit("900101123")
    return f"{digits[:6]}-{digits[6:]}"


@pytest.fixture
def assessment_kwargs() -> dict[str, Any]:
    return dict(
        assessment_id=uuid.UUID("3b0e6f0a-9c4d-4f7e-8a21-5d6c7e8f9a01"),
        revision=1,
        organiser_id="2999",
        school_unit_code="29990011",
        group_id="grp-7b",
        student_id="stu-7f3a9c",
        teacher_id="tch-4b21e0",
        gender="female",
        year=7,
        subject_code="GRGRMAT01",
        kind="assessment",
        scale="AF",
        value="C",
        school_year="2026/27",
        term="HT",
        round=1,
        assessed_on=date(2026, 10, 1),
        published_at=datetime(2026, 10, 2, 12, 0, tzinfo=UTC),
    )
