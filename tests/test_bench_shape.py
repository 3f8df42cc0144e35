"""make bench's default data is the deadline week in the issue's shape (bench/speed.py `--shape term`,
bench/deadline_week.py `TermData`): classes of 25, every student 16 subjects × 4 rounds, the class lists of a round
before the next round's, bodies the bulk API accepts; its full size exactly 100,000 × 16 × 4. The rebuild's 6.4M
estimate grows by a measured exponent (bench/rebuild_growth.py), not a linear guess."""

import argparse
import itertools
import json
import math
import sys
from collections import Counter
from pathlib import Path

import pytest
from bench_scripts import bench

from styrkedja_assessment.assessments.schemas import AssessmentBatchIn


def test_the_term_shape_is_classes_of_25_with_16_subjects_by_4_rounds_in_deadline_order():
    data = bench("deadline_week").TermData(seed=3, students=650)
    bodies = data.new_assessments(650 * 64)

    per_student = Counter(b["student_id"] for b in bodies)
    assert len(per_student) == 650 and set(per_student.values()) == {64}
    assert len({(b["student_id"], b["subject_code"], b["round"]) for b in bodies}) == len(bodies)
    classes = Counter((b["school_unit_code"], b["group_id"]) for b in bodies if b["subject_code"] == "GRGRSVE01"
                      and b["round"] == 1)
    assert sorted(classes.values()) == [25] * 26
    assert len(data.units[data.organisers[0]]) == 2 and data.organisers == (bodies[0]["organiser_id"],)
    # a round's class lists all come before the next round's, one class list (25 results) at a time
    assert [r for r, _ in itertools.groupby(b["round"] for b in bodies)] == [1, 2, 3, 4]
    lists = [len(list(g)) for _, g in itertools.groupby(
        bodies, key=lambda b: (b["school_unit_code"], b["group_id"], b["subject_code"], b["round"]))]
    assert set(lists) == {25}
    assert AssessmentBatchIn.model_validate({"items": bodies[:1000]})
    with pytest.raises(ValueError, match="results"):
        data.new_assessments(1)


def test_the_recomputation_counts_every_term_result_at_every_level():
    data = bench("deadline_week").TermData(seed=3, students=30)
    for n, body in enumerate(data.new_assessments(30 * 64)):
        data.final[f"a-{n}"] = body
    data.placed = True
    expected = data.expected()
    for level in ("student", "group", "school_unit", "area", "organiser", "nation"):
        assert sum(sum(c.values()) for key, c in expected.items() if key[0] == level) == 30 * 64
    assert {change["data"]["unit_type"] for change in data.directory_changes()} == {
        "organiser", "area", "school_unit", "group"}


def test_the_full_size_is_exactly_the_issues_and_the_default_whole_students():
    speed = bench("speed")

    def sizes(**given):
        return speed.sizes(argparse.Namespace(**{"shape": "term", "full": False, "items": None, **given}))

    assert sizes(full=True) == (6_400_000, 100_000)
    assert sizes() == (64_000, 1_000)
    assert sizes(items=60_000) == (59_968, 937)
    assert sizes(shape="sparse") == (60_000, None)
    assert sizes(shape="sparse", full=True) == (6_400_000, None)


def test_the_full_rebuild_estimate_grows_by_the_measured_exponent(tmp_path, monkeypatch):
    speed, growth = bench("speed"), bench("rebuild_growth")
    # two sizes whose seconds grow as events ^ 1.2
    runs = []
    for events in (64_000, 400_000):
        path = tmp_path / f"{events}.json"
        path.write_text(json.dumps({"shape": "term", "rebuild": {
            "events_read": events, "seconds": 2e-4 * events ** 1.2, "process_seconds": 1.5 + 2e-4 * events ** 1.2}}))
        runs.append(str(path))
    out = tmp_path / "growth.json"
    monkeypatch.setattr(sys, "argv", ["rebuild_growth.py", *runs, "--out", str(out)])
    assert growth.main() == 0
    measured = json.loads(out.read_text())
    assert measured["exponent"] == pytest.approx(1.2, abs=1e-3) and measured["basis"] == "wall"

    monkeypatch.setattr(speed, "REBUILD_GROWTH", out)
    rebuilt = {"events_read": 64_000, "seconds": 10.0, "process_seconds": 11.5}
    estimate, exponent = speed.full_rebuild_estimate(rebuilt, "term")
    assert exponent == pytest.approx(1.2, abs=1e-3)
    assert estimate == pytest.approx(1.5 + 10.0 * 100 ** exponent)
    assert speed.full_rebuild_estimate(rebuilt, "sparse") == (pytest.approx(1.5 + 1000.0), 1.0)
    # the read's closing wait (a timer) and the shadow schema do not grow with the events: counted once
    timed = {**rebuilt, "read_end_wait_seconds": 1.5, "stages": {"shadow": 0.2}}
    estimate, _ = speed.full_rebuild_estimate(timed, "term")
    assert estimate == pytest.approx(1.5 + 1.7 + 8.3 * 100 ** exponent)
    assert math.isclose(measured["full_estimate_seconds"], 1.5 + 2e-4 * 6_400_000 ** 1.2, rel_tol=1e-2)

    # with every run's CPU seconds the exponent is the CPU's (the wall's follows the load of each run's window)
    for path, events in zip(runs, (64_000, 400_000), strict=True):
        result = json.loads(Path(path).read_text())
        result["rebuild"]["cpu_seconds"] = {"read": {"python": 1e-5 * events, "postgres": 0.0},
                                            "after_read": {"python": 0.0, "postgres": 1e-5 * events ** 1.05}}
        Path(path).write_text(json.dumps(result))
    assert growth.main() == 0
    measured = json.loads(out.read_text())
    assert measured["basis"] == "cpu" and 1.0 < measured["exponent"] < 1.05 < measured["wall_exponent"]


def test_the_national_term_shape_deals_whole_classes_to_organisers_over_every_partition():
    deadline_week, apply_workers = bench("deadline_week"), bench("apply_workers")
    data = deadline_week.TermData(seed=3, students=650, organiser_count=12)
    bodies = data.new_assessments(650 * 64)

    assert len(data.organisers) == len(set(data.organisers)) == 12
    # two organisers in each of the topics' six partitions: every partition holds events, each the same share
    assert Counter(apply_workers.partition_of(o) for o in data.organisers) == dict.fromkeys(range(6), 2)
    per_organiser = Counter(b["organiser_id"] for b in bodies)
    assert set(per_organiser) == set(data.organisers)
    assert sorted(per_organiser.values()) == sorted(n * 64 for n in deadline_week.organiser_students(650, 12))
    # each organiser its own school units, areas and classes of 25 (26 classes: one organiser's last is short)
    units = {o: {b["school_unit_code"] for b in bodies if b["organiser_id"] == o} for o in data.organisers}
    assert all(units[o] == set(data.units[o]) for o in data.organisers)
    assert sum(len(u) for u in units.values()) == len(set().union(*units.values())) == 12
    assert {data.area_of[code] for code in data.units[data.organisers[0]]} <= set(data.areas[data.organisers[0]])
    classes = Counter((b["school_unit_code"], b["group_id"]) for b in bodies if b["subject_code"] == "GRGRSVE01"
                      and b["round"] == 1)
    assert sorted(classes.values()) == [25] * 26
    per_student = Counter(b["student_id"] for b in bodies)
    assert len(per_student) == 650 and set(per_student.values()) == {64}
    # the organisers' class lists interleaved: a batch of the bulk API holds several organisers' lists
    assert len({b["organiser_id"] for b in bodies[:1000]}) > 6
    assert AssessmentBatchIn.model_validate({"items": bodies[:1000]})
    organisers_in_directory = {c["data"]["unit_id"] for c in data.directory_changes()
                               if c["data"]["unit_type"] == "organiser"}
    assert organisers_in_directory == set(data.organisers)


def test_organisers_are_dealt_whole_classes_and_balanced_over_the_partitions():
    deadline_week, apply_workers, speed = bench("deadline_week"), bench("apply_workers"), bench("speed")
    assert deadline_week.organiser_students(1000, 12) == [100] * 4 + [75] * 8
    assert deadline_week.organiser_students(60, 2) == [35, 25]
    assert deadline_week.organiser_students(10, 4) == [2, 3, 2, 3]  # fewer classes than organisers: split evenly
    with pytest.raises(ValueError, match="organisers"):
        deadline_week.organiser_students(3, 4)
    for count in range(1, 20):
        per_partition = Counter(apply_workers.partition_of(o) for o in apply_workers.organiser_ids(count, True))
        assert max(per_partition.values()) - min(per_partition.values(), default=0) <= 1
        assert len(per_partition) == min(count, 6)  # with six or more, every partition

    def organisers(**given):
        return speed.organisers(argparse.Namespace(**{"full": False, "organisers": None, **given}))

    assert (organisers(), organisers(full=True), organisers(organisers=3)) == (12, 290, 3)
    assert speed.consumer_counts("1,2") == [1, 2]
    with pytest.raises(ValueError, match="apply-consumers"):
        speed.consumer_counts("0")


def test_the_apply_stage_alternates_its_configurations_and_ends_on_the_last():
    speed = bench("speed")
    assert speed.apply_sequence([1, 2], 1) == [1, 2]
    assert speed.apply_sequence([1, 2], 2) == [2, 1, 1, 2]
    assert speed.apply_sequence([1, 2], 3) == [1, 2, 2, 1, 1, 2]
    runs = [{"consumers": c, "events_per_s": rate, "cpu_us_per_event": {"reporting": cpu}}
            for c, rate, cpu in ((2, 300.0, 50.0), (1, 100.0, 70.0), (1, 200.0, 90.0), (2, 300.0, 60.0))]
    summary = speed.apply_summary(runs, [1, 2])
    assert summary["reporting_apply_1_consumers_reporting_cpu_us_per_event"] == 80.0
    assert summary["reporting_apply_2_consumers_reporting_cpu_us_per_event"] == 55.0
    assert (summary["reporting_apply_2_to_1_consumers_ratio_round_1"],
            summary["reporting_apply_2_to_1_consumers_ratio_round_2"]) == (3.0, 1.5)
