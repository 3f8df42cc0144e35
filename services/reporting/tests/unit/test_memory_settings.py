"""Reporting's memory settings (#16): glibc's allocator tuned, not the kit's default."""

from __future__ import annotations


def test_reporting_asks_for_them_and_the_kit_default_does_not() -> None:
    from styrkedja_kit.settings import ServiceSettings
    from styrkedja_reporting.settings import ReportingSettings

    url = "postgresql+asyncpg://u@127.0.0.1:1/x"
    kit, reporting = ServiceSettings(database_url=url), ReportingSettings(database_url=url)
    assert (kit.malloc_trim_threshold_bytes, kit.malloc_mmap_threshold_bytes, kit.malloc_arena_max) == (None,) * 3
    assert (reporting.malloc_trim_threshold_bytes, reporting.malloc_mmap_threshold_bytes,
            reporting.malloc_arena_max) == (128 * 1024, 128 * 1024, 2)
