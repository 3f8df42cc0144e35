"""End to end at two organisers with areas: the directory published through reporting's write API
(→ outbox → styrkedja.organisation → reporting), 5,000+ assessments with revisions, retractions and
resends, a school moving to another area mid-stream, and a SIGKILL of reporting: every cell at
all six levels equals an independent recomputation. Every school has groups "6A", "6B", "9A" and
"9B": group ids collide across school units and organisers, reporting scopes them."""

from __future__ import annotations

import time

import httpx
import pytest

from support import LEVELS, Mittkoping, ingest, publish_directory, wait_until_exact

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.mark.own_stack  # SIGKILLs reporting
def test_six_levels_exact_with_a_school_moving_between_areas_and_a_sigkill(stack):
    reporting_url = stack.url("reporting")
    data = Mittkoping(seed=21)
    tokens = stack.tokens
    assert publish_directory(reporting_url, data, tokens=tokens)["created"] == len(data.directory_changes())
    assert publish_directory(reporting_url, data, tokens=tokens)["unchanged"] == len(data.directory_changes())  # idempotent
    moving = data.units[data.organisers[0]][0]
    moved = []

    def move_mid_stream(report) -> None:
        if report.posted >= 2500 and not moved:
            publish_directory(reporting_url, data, [data.move(moving)], tokens=tokens)
            moved.append(report.posted)

    ingest(stack.url("assessment"), data, new=5000, revisions=1000, retractions=300, duplicates=200,
           between_batches=move_mid_stream, tokens=tokens)
    assert moved, "the school must have moved while assessments were flowing"
    wait_until_exact(reporting_url, data, timeout=240, tokens=tokens)
    consistency = httpx.get(reporting_url + "/v1/admin/consistency", timeout=120, headers=tokens.ops()).json()
    assert consistency["consistent"], consistency
    assert set(consistency["per_level"]["assessments"]) == set(LEVELS)

    reporting = stack.processes["reporting"]
    reporting.kill()
    ingest(stack.url("assessment"), data, new=500, revisions=200, retractions=50, duplicates=0, tokens=tokens)
    publish_directory_while_down = data.move(data.units[data.organisers[1]][1])
    started = time.monotonic()
    reporting.start()
    reporting.wait_ready(60)
    ready_after = time.monotonic() - started
    publish_directory(reporting_url, data, [publish_directory_while_down], tokens=tokens)
    wait_until_exact(reporting_url, data, timeout=240, tokens=tokens)
    assert httpx.get(reporting_url + "/v1/admin/consistency", timeout=120, headers=tokens.ops()).json()["consistent"]
    unplaced = httpx.get(reporting_url + "/v1/admin/unplaced", headers=tokens.ops(),
                         params={"organiser_id": data.organisers[0]}).json()
    assert unplaced == []  # every school and group of this data set is in the directory
    print(f"\nreporting ready {ready_after:.1f} s after a restart following SIGKILL")
