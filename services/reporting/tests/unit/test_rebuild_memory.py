"""The rebuild's PostgreSQL memory (`rebuild.bulk.memory_kb`): sized to the staged facts, never below the 256 MB
every size had before, never above a share of the machine per connection; the variable overrides it."""

from __future__ import annotations

import os

import pytest

from styrkedja_reporting.rebuild import bulk
from styrkedja_reporting.rebuild.bulk import WORK_MEM_FLOOR_KB, WORK_MEM_PER_FACT, memory_kb


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv("STYRKEDJA_REBUILD_WORK_MEM_MB", raising=False)


def _machine_kb(monkeypatch, gib: int) -> None:
    real = os.sysconf
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": gib * 1024 ** 3 // 4096}
    monkeypatch.setattr(bulk.os, "sysconf", lambda name: pages[name] if name in pages else real(name))


def test_small_rebuilds_keep_the_floor(monkeypatch):
    _machine_kb(monkeypatch, 24)
    assert memory_kb(0, 2) == WORK_MEM_FLOOR_KB == 256 * 1024
    assert memory_kb(400_000, 2) == WORK_MEM_FLOOR_KB  # 195 MB by the facts: the floor


def test_the_memory_grows_with_the_facts(monkeypatch):
    _machine_kb(monkeypatch, 24)
    assert memory_kb(1_600_000, 2) == 1_600_000 * WORK_MEM_PER_FACT // 1024  # 781 MB: the 1.6M bench's nodes fit
    assert memory_kb(1_600_000, 2) > memory_kb(800_000, 2) > WORK_MEM_FLOOR_KB


def test_the_cap_is_a_share_of_the_machine_per_connection(monkeypatch):
    _machine_kb(monkeypatch, 24)
    assert memory_kb(6_400_000, 2) == 24 * 1024 ** 2 // (bulk.WORK_MEM_SHARE * 2)  # 1.5 GiB each of two
    assert memory_kb(6_400_000, 4) == 24 * 1024 ** 2 // (bulk.WORK_MEM_SHARE * 4)
    _machine_kb(monkeypatch, 2)  # a small machine: the floor, not less
    assert memory_kb(6_400_000, 2) == WORK_MEM_FLOOR_KB


def test_the_variable_sets_it(monkeypatch):
    monkeypatch.setenv("STYRKEDJA_REBUILD_WORK_MEM_MB", "512")
    assert memory_kb(6_400_000, 2) == 512 * 1024
    assert memory_kb(0, 1) == 512 * 1024
