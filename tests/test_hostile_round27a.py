"""Hostile inputs, round 27 (a): LARGE BUT VALID input on the write side.

`make bench --full` (290 organisers) posted 4,870 directory changes — the limit is 5,000 — and reporting answered 500:
one multi-row `INSERT ... VALUES` carried 8 columns x 4,870 rows = 38,960 bind parameters, over the 32,767 one
PostgreSQL statement may have (asyncpg's InterfaceError). An IN list is the same trap: SQLAlchemy expands `.in_(list)`
into one parameter per value, `tuple_(a, b).in_(rows)` into one per value per column.

Found and fixed (each test named failed on the old code):
- A directory removal by source ids (at most 5,000) of source ids that stand for several entities each: 5,000 ids of
  4 entities were 20,000 removals, looked up by a tuple IN list of 40,000 parameters — a 500
  (`services/reporting/tests/integration/test_directory_max_batches.py`).
- The directory's apply of a consumer batch (up to 100,000 events; a rebuild's as large) placing 11,000 school units
  in an area: one multi-row VALUES of 3 parameters per code, 33,000 — the batch failed and was applied again in
  halves (same module).
- The consumer's claim of a replayed batch (33,000 events applied before) read their digests by an IN list of one
  parameter per event id: the claim failed (found by round 27b too, which fixed it first:
  `packages/kit/tests/test_consumer_claim.py`).
- A directory batch refused for its items listed the first 100 errors and said nothing of the rest; now as every
  batch door: the first 1,000, then `more_errors` saying how many more.
- Every statement of the write side whose parameters grew with the input now sends one array per column (the kit's
  `styrkedja_kit.sets`: `any_of`, `rows_in`, `unnested`, and `insert_rows` for plain upserts): the directory's write
  path (published rows, claims, school unit codes, removals) and its apply (upserts, placements), the consumer's
  lookups of applied events, support's investigations, forecast's calendars.

The doors at their maximum (all items valid and distinct; all new, all changed, all the same again): the assessment
service's batch doors and the forecasts' at `max_batch_items`' bound (10,000), the directory's changes and removals at
5,000, an SS 12000 import page at the importer's `--page-size` bound (10,000) — each in its service's tests.

Body size against item count (the rule, `docs/platforms.md`): a batch is bounded twice, by its items
(`max_batch_items`, 5,000 for the directory) and by its bytes (`max_request_body_bytes`, 4 MiB). A batch of the most
items with every text at its longest does not fit (an assessment's 100 unmet criteria of 500 characters are 50 kB
alone): the body limit is then the one met first, and its 413 names `body` and `max_body_bytes` — the client sends
fewer items per batch, which it always can (one item fits). A batch of the most items of ordinary size fits.

The guards below keep it so: no IN list, no multi-row VALUES on the write side, read from the sources; and every
long list of a write body (the OpenAPI `maxItems` of each) has a test sending its maximum."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the write side: the kit (write path, outbox, idempotency, consumer), the writing services, reporting's directory
#: (its doors and its apply) and the importer
WRITE_SIDE = ("packages/kit/src/styrkedja_kit/**/*.py", "services/assessment/src/**/*.py",
              "services/forecast/src/**/*.py", "services/reporting/src/styrkedja_reporting/directory/*.py",
              "services/reporting/src/styrkedja_reporting/staging.py", "packages/cli/src/**/*.py")
#: IN lists whose length does not grow with any input, each with why (file, the call's source)
BOUNDED = {
    ("packages/kit/src/styrkedja_kit/consumer.py", "self.offsets.c.topic.in_({tp.topic for tp in assigned})"):
        "the topics a consumer reads: a handful",
    ("packages/kit/src/styrkedja_kit/consumer.py", "offsets.c.topic.in_({tp.topic for tp in partitions})"):
        "the topics a consumer reads: a handful",
}
#: an IN over a subquery takes no parameter per value (`rows_in`: IN (SELECT FROM unnest(arrays)))
SUBQUERY_CALLS = {"unnested", "select"}


def _sources() -> list[Path]:
    return sorted({f for pattern in WRITE_SIDE for f in ROOT.glob(pattern) if "migrations" not in f.parts})


def growing_parameters(source: str) -> list[tuple[int, str]]:
    """The calls of `source` whose bind parameters grow with a list: `.in_(values)` / `.notin_(values)` (one
    parameter per value; per value per column for a tuple) and `.values(rows)` of a list (a multi-row VALUES:
    one per row per column). `.values(**columns)` / `.values({...})` is one row."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr in ("in_", "notin_"):
            argument = node.args[0] if node.args else None
            if (isinstance(argument, ast.Call) and isinstance(argument.func, ast.Name)
                    and argument.func.id in SUBQUERY_CALLS):
                continue
        elif not (node.func.attr == "values" and node.args and not isinstance(node.args[0], ast.Dict)):
            continue
        found.append((node.lineno, ast.get_source_segment(source, node) or ""))
    return sorted(found)


def test_the_write_side_is_there_to_check() -> None:
    names = {str(p.relative_to(ROOT)) for p in _sources()}
    assert {"packages/kit/src/styrkedja_kit/writes.py", "services/reporting/src/styrkedja_reporting/directory/writes.py",
            "services/reporting/src/styrkedja_reporting/directory/handlers.py",
            "packages/cli/src/styrkedja_cli/ss12000/command.py"} <= names


def test_the_check_finds_an_in_list_and_a_multi_row_values() -> None:
    found = growing_parameters(
        "select(t).where(t.c.a.in_(ids))\n"
        "select(t).where(tuple_(t.c.a, t.c.b).in_(sorted(keys)))\n"
        "pg_insert(t).values(rows[start:start + 1000])\n"
        "pg_insert(t).values([{'a': 1} for _ in rows])\n"
        "select(t).where(tuple_(t.c.a).in_(unnested([t.c.a], rows)))\n"  # one array parameter: fine
        "t.update().values(a=1)\n"  # one row: fine
        "insert(t).values({'a': 1})\n")
    assert [line for line, _ in found] == [1, 2, 3, 4]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_statement_of_the_write_side_grows_with_its_input(path: Path) -> None:
    """PostgreSQL takes at most 32,767 bind parameters in one statement: a batch's values go as arrays
    (`styrkedja_kit.sets`: `any_of`, `rows_in`, `unnested`, `insert_rows`), whatever the batch's size."""
    name = str(path.relative_to(ROOT))
    growing = [f"line {line}: {call}" for line, call in growing_parameters(path.read_text(encoding="utf-8"))
               if (name, call) not in BOUNDED]
    assert not growing, f"{name}: a parameter per value (use styrkedja_kit.sets' arrays): {growing}"


#: every array of a write body that may hold more than `SMALL_LIST` items, and the test that sends its maximum (all
#: items valid and distinct) — or why none needs to: a new bulk door is not added without its test at its maximum
AT_ITS_MAXIMUM = {
    ("assessment", "POST /v1/assessments/batch", "items"):
        "services/assessment/tests/integration/test_max_batches.py::test_a_full_batch_of_assessments",
    ("assessment", "POST /v1/support-interventions/batch", "items"):
        "services/assessment/tests/integration/test_max_batches.py::"
        "test_a_full_batch_of_support_interventions_each_on_an_investigation",
    ("assessment", "POST /v1/plans/batch", "items"):
        "services/assessment/tests/integration/test_max_batches.py::test_a_full_batch_of_plans",
    ("forecast", "POST /v1/forecasts/batch", "items"):
        "services/forecast/tests/integration/test_max_batches.py::test_a_full_batch_of_forecasts",
    ("reporting", "POST /v1/directory/changes", "items"):
        "services/reporting/tests/integration/test_directory_max_batches.py::test_a_full_batch_of_new_entities_is_published",
    ("reporting", "POST /v1/directory/removals", "source_ids"):
        "services/reporting/tests/integration/test_directory_max_batches.py::"
        "test_a_full_removal_by_source_ids_of_many_entities_each",
    ("reporting", "POST /v1/directory/removals", "entities"):
        "services/reporting/tests/integration/test_directory_max_batches.py::test_a_full_removal_by_entities_removes_them_all",
    ("assessment", "POST /v1/plans", "criteria_codes"): "one record's list, stored in its JSON content (no row each)",
    ("lika", "PATCH /v1/self-assessments/{self_assessment_id}/ratings", "ratings"):
        "one VALUES row of 5 parameters each: 2,500 at 500 ratings",
    ("lika", "POST /v1/self-assessments/published", "ratings"): "as the PATCH of ratings",
}
SMALL_LIST = 100


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _long_lists(service: str) -> set[tuple[str, str, str]]:
    """(service, "METHOD path", field) of each array of a request body that may hold more than `SMALL_LIST` items
    (the published `maxItems`: a batch's is the running service's `max_batch_items`)."""
    from test_docs_examples import openapi

    document = openapi(service)
    found = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = (operation.get("requestBody") or {}).get("content", {}).get("application/json")
            if not content:
                continue
            body = _resolved(document, content["schema"])
            for name, field in (body.get("properties") or {}).items():
                field = _resolved(document, field)
                for shape in (field, *field.get("anyOf", [])):
                    if shape.get("type") == "array" and shape.get("maxItems", SMALL_LIST + 1) > SMALL_LIST:
                        found.add((service, f"{method.upper()} {path}", name))
    return found


def test_every_long_list_of_a_write_body_is_sent_at_its_maximum_somewhere() -> None:
    found = set().union(*(_long_lists(service) for service in ("assessment", "forecast", "reporting", "lika")))
    assert found, "no write body read: the check would pass on nothing"
    assert found == set(AT_ITS_MAXIMUM), (
        f"a list without a test at its maximum: {sorted(found - set(AT_ITS_MAXIMUM))}; "
        f"listed but gone: {sorted(set(AT_ITS_MAXIMUM) - found)}")
    for reason in AT_ITS_MAXIMUM.values():  # each test named is there
        if "::" in reason:
            path, _, name = reason.partition("::")
            assert f"def {name}(" in (ROOT / path).read_text(encoding="utf-8"), reason
