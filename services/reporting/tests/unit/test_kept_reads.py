"""The cells of area, organiser and nation reads kept per state version are bounded by the cells they hold (#16,
bench/README.md reads30): bounded by reads alone (512), the cell check's reads of one organiser after another grew a
worker by ~0.35 MB an organiser until ~170 organisers."""

from __future__ import annotations

from typing import Any, cast

from styrkedja_reporting.results.read import KeptReads, ResultCell


def cells(n: int) -> list[ResultCell]:
    return cast(list[ResultCell], [object()] * n)  # the cache counts cells; what they are is the read's


def test_the_kept_cells_never_pass_the_budget_and_the_oldest_go_first() -> None:
    kept = KeptReads(max_cells=200)
    for organiser in range(300):  # as the cell check: each organiser's area, organiser and nation read, once
        for level in ("area", "organiser", "nation"):
            kept.keep((organiser, level), cells(64))
            held = sum(len(v) for v in cast(Any, kept)._reads.values())
            assert held == kept.cells <= 200
    assert kept.get((299, "nation")) is not None and kept.get((299, "organiser")) is not None
    assert kept.get((0, "area")) is None  # the least recently used went first


def test_a_read_larger_than_the_budget_is_not_kept_and_drops_nothing() -> None:
    kept = KeptReads(max_cells=100)
    kept.keep("small", cells(60))
    kept.keep("large", cells(101))
    assert kept.get("large") is None and kept.get("small") is not None and kept.cells == 60
    kept.keep("small", cells(101))  # kept again larger: the old one is counted out, the new one not kept
    assert kept.get("small") is None and kept.cells == 0 and len(kept) == 0


def test_a_hit_is_kept_longest() -> None:
    kept = KeptReads(max_cells=128)
    kept.keep("a", cells(64))
    kept.keep("b", cells(64))
    assert kept.get("a") is not None
    kept.keep("c", cells(64))
    assert kept.get("b") is None and kept.get("a") is not None


def test_reporting_sets_the_budget_from_its_setting() -> None:
    from styrkedja_reporting.main import create_app
    from styrkedja_reporting.results.read import KEPT
    from styrkedja_reporting.settings import ReportingSettings

    before = KEPT.max_cells
    try:
        create_app(ReportingSettings(database_url="postgresql+asyncpg://u@127.0.0.1:1/x", results_kept_cells=123))
        assert KEPT.max_cells == 123
    finally:
        KEPT.max_cells = before
    assert ReportingSettings(database_url="postgresql+asyncpg://u@127.0.0.1:1/x").results_kept_cells == 4_096


def test_metrics_tell_what_both_caches_hold() -> None:
    from prometheus_client.core import REGISTRY

    from styrkedja_reporting.access.answers import ANSWERS
    from styrkedja_reporting.results.read import KEPT

    KEPT.clear()
    try:
        KEPT.keep("one read", cells(64))
        assert REGISTRY.get_sample_value("styrkedja_results_kept_cells") == 64
        assert REGISTRY.get_sample_value("styrkedja_read_answers_kept_bytes") == ANSWERS.kept_bytes()
    finally:
        KEPT.clear()
