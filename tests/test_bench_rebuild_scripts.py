"""The rebuild's statement benches name the schema of this tree (rebuild34: `rebuild_heap_order.py` and
`rebuild_variants.py` still named `compliance_round_reports` after migration 0037 dropped it): what they measure is
read from reporting's metadata, and a step comparing a dropped table refuses and says why."""

from types import ModuleType

import pytest
from bench_scripts import ROOT, bench

from styrkedja_reporting.persistence import metadata


@pytest.fixture
def variants(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))  # it imports its sibling rebuild_statements
    return bench("rebuild_variants")


def test_heap_order_measures_the_schemas_tables_their_keys_and_indexes() -> None:
    heap = bench("rebuild_heap_order")
    measured = heap.tables()
    assert set(measured) | set(heap.WAL_TABLES) <= set(metadata.tables)
    for name, (indexes, orders) in measured.items():
        table = metadata.tables[name]
        assert indexes[0] == [c.name for c in table.primary_key.columns]
        assert len(indexes) == 1 + len(table.indexes)
        assert orders["key"] == indexes[0] and orders["shuffled"] is None
        assert all(set(order) >= set(indexes[0]) for order in orders.values() if order)


def test_heap_order_refuses_a_table_the_schema_does_not_hold() -> None:
    with pytest.raises(SystemExit, match="compliance_round_reports"):
        bench("rebuild_heap_order").indexes_of("compliance_round_reports")


def test_every_variant_step_names_only_tables_of_the_schema(variants: ModuleType) -> None:
    for step, make in variants.STEPS.items():
        if step in variants.RETIRED:
            continue
        for setup, measured in make().values():
            assert variants.named_tables([*setup, *measured]) <= set(metadata.tables), step


def test_a_variant_builds_the_indexes_the_schema_declares(variants: ModuleType) -> None:
    table = metadata.tables["figure_students"]
    builds = variants._builds(table)
    assert builds[0].startswith("ALTER TABLE figure_students ADD PRIMARY KEY")
    assert len(builds) == 1 + len(table.indexes)
    for _setup, measured in variants.STEPS["students"]().values():
        assert measured[-len(builds):] == builds
    with_expression = variants._builds(metadata.tables["assessment_facts"])  # its newest-result index: expressions
    assert any("(term = 'VT')" in b for b in with_expression), with_expression


def test_the_round_reports_step_refuses_naming_the_migration(variants: ModuleType) -> None:
    with pytest.raises(SystemExit, match="0037"):
        variants.STEPS["round_reports"]()
    assert "round_reports" in variants.RETIRED
