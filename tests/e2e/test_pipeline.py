"""End to end: assessments posted over HTTP → assessment service → outbox → Kafka → reporting,
and every reported figure equals an independent recomputation."""

from __future__ import annotations

import time

import httpx
import pytest
from support import Mittkoping, ingest, wait_until_exact

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_five_thousand_assessments_with_revisions_retractions_and_resends(stack):
    data = Mittkoping(seed=1)
    report = ingest(stack.url("assessment"), data, new=5000, revisions=1000, retractions=300, duplicates=500)
    assert report.unchanged == 500
    caught_up = wait_until_exact(stack.url("reporting"), data)
    consistency = httpx.get(stack.url("reporting") + "/v1/admin/consistency").json()
    assert consistency["consistent"], consistency
    print(f"\ningest: {report.posted} requests' items in {report.seconds:.1f} s = {report.rate:.0f}/s; "
          f"reporting exact {caught_up:.1f} s after the last request")


def test_one_assessment_is_visible_in_reporting_promptly(stack):
    # a new stack first reads what earlier tests left on the shared topics: let it catch up
    warm_up = Mittkoping(seed=2)
    ingest(stack.url("assessment"), warm_up, new=1, revisions=0, retractions=0, duplicates=0)
    wait_until_exact(stack.url("reporting"), warm_up, timeout=180)
    data = Mittkoping(seed=5)
    ingest(stack.url("assessment"), data, new=1, revisions=0, retractions=0, duplicates=0)
    seconds = wait_until_exact(stack.url("reporting"), data, timeout=30)
    print(f"\none assessment visible in reporting after {seconds:.2f} s")
