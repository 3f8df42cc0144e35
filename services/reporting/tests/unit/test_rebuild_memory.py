"""The rebuild's PostgreSQL memory (`rebuild.bulk.memory_kb`): 256 MB (why not more: WORK_MEM_KB's comment), or
what STYRKEDJA_REBUILD_WORK_MEM_MB says (a bench setting, `RebuildSettings.rebuild_work_mem_mb`: 64 MB at least)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from styrkedja_reporting.rebuild.bulk import WORK_MEM_KB, memory_kb
from styrkedja_reporting.settings import RebuildSettings


def test_the_rebuild_keeps_256_mb(monkeypatch):
    monkeypatch.delenv("STYRKEDJA_REBUILD_WORK_MEM_MB", raising=False)
    assert memory_kb(RebuildSettings().rebuild_work_mem_mb) == memory_kb() == WORK_MEM_KB == 256 * 1024


def test_the_variable_sets_it_and_not_below_64_mb(monkeypatch):
    monkeypatch.setenv("STYRKEDJA_REBUILD_WORK_MEM_MB", "782")
    assert memory_kb(RebuildSettings().rebuild_work_mem_mb) == 782 * 1024
    monkeypatch.setenv("STYRKEDJA_REBUILD_WORK_MEM_MB", "1")  # was taken as 64 silently: now said
    with pytest.raises(ValidationError, match="greater than or equal to 64"):
        RebuildSettings()
