"""A realistic deadline-week load for reporting's apply (issue 16, apply12), beside the figures bench's
(`figures_read.organisation` / `results`), which is kept as it is. Clearly a *variant*: same organiser, areas,
school units, subjects, rounds, values and event kinds as the figures bench, but

* classes of `CLASS_SIZE` students (the figures bench puts student `s` in group `(s // 80) % 12` of school unit
  `s % 20` and year `6 + (s // 20) % 4`: at 600 students every group holds exactly one student, at 6,000 about six);
* the events in the order a platform sends them in the weeks before a round's deadline: a teacher publishes a
  class's results in one subject for one round at once (the bulk API's batch), many teachers interleaved — so the
  topic holds class lists of one round, not one student's whole school year after another (the figures bench's
  order, where consecutive students are in different school units and years).

`cells_per_batch` counts, without a database, the distinct cells a batch of either load touches per table and level
(the rows the apply path writes: its deltas are summed per cell in memory first), to tell data from code.

    .venv/bin/python bench/deadline_week.py [--students 600] [--batch 5000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from figures_read import ORGANISER, ROUND_TERM, SUBJECTS, T0, organisation, results  # noqa: E402

from styrkedja_contracts import (  # noqa: E402
    AssessmentPublishedV1,
    ForecastSubmittedV1,
    GroupMembershipUpsertedV1,
    new_event,
)

CLASS_SIZE = 25
SCHOOL_UNITS = 20


def deadline_organisation(students: int) -> tuple[list, list[tuple[str, str, int]]]:
    """The figures bench's organiser (4 areas × 5 school units), its students in classes of `CLASS_SIZE`: class `c`
    (students `25c … 25c + 24`) in year `6 + c % 4`, school unit `(c // 4) % 20`, letter `c // 80` (every year
    has classes however few the students: year 9's forecasts and term grades too)."""
    directory, _ = organisation(0)  # the organiser, areas and school units, no students
    codes = [e.data.school_unit_code for e in directory if e.data.unit_type == "school_unit"]
    groups = []
    for s in range(students):
        c = s // CLASS_SIZE
        code, year = codes[(c // 4) % len(codes)], 6 + c % 4
        groups.append((code, f"{year}{'ABCDEFGHIJKL'[(c // (4 * len(codes))) % 12]}", year))
        directory.append(new_event(GroupMembershipUpsertedV1(
            membership_id=f"m-{s}", organiser_id=ORGANISER, school_unit_code=code, group_id=groups[-1][1],
            student_id=f"st-{s}", start_date=date(2026, 8, 15), end_date=date(2027, 6, 15), updated_at=T0),
            source="/b"))
    return directory, groups


def deadline_results(rng: random.Random, groups: list[tuple[str, str, int]]) -> list:
    """The figures bench's results (`figures_read.results`: 16 subjects × 4 rounds, year 9's forecasts and term
    grades; the same value distributions) in deadline-week order: round by round (the forecasts in the window
    before round 3's, the term grades after round 4's), within a round one class list (a group's students in one
    subject) after another, the class lists of the round in random order (many teachers at once)."""
    by_group: dict[tuple[str, str], list[tuple[int, str, int]]] = defaultdict(list)
    for s, (code, group, year) in enumerate(groups):
        by_group[(code, group)].append((s, group, year))
    gender = {s: rng.choice(("female", "male", "unknown")) for s in range(len(groups))}
    lists: dict[int, list[list]] = defaultdict(list)  # phase → class lists (phase 5: forecasts, 6: term grades)
    for (code, group), members in by_group.items():
        year = members[0][2]
        for subject in SUBJECTS:
            for round_ in (1, 2, 3, 4):
                out = []
                for s, _, _ in members:
                    value = rng.choice("ABCDEEF")
                    out.append(new_event(AssessmentPublishedV1(
                        assessment_id=uuid.UUID(int=rng.getrandbits(128)), revision=1, subject_code=subject,
                        kind="assessment", scale="AF", value=value, unmet_criteria=("K1",) if value == "F" else (),
                        term=ROUND_TERM[round_], round=round_,
                        assessed_on=date(2026, 9, 15) + timedelta(days=60 * round_), published_at=T0,
                        **_base(s, code, group, year, gender[s])), source="/b"))
                lists[round_].append(out)
            if year == 9:
                forecasts, grades = [], []
                for s, _, _ in members:
                    forecasts.append(new_event(ForecastSubmittedV1(
                        forecast_id=uuid.UUID(int=rng.getrandbits(128)), revision=1, subject_code=subject, term="VT",
                        value=rng.choice(("NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE")),
                        submitted_at=T0 + timedelta(days=200), window_deadline=date(2027, 4, 2), late=False,
                        **_base(s, code, group, year, gender[s])), source="/b"))
                    value = rng.choice("ABCDEEF")
                    grades.append(new_event(AssessmentPublishedV1(
                        assessment_id=uuid.UUID(int=rng.getrandbits(128)), revision=1, subject_code=subject,
                        kind="term_grade", scale="AF", value=value, unmet_criteria=("K1",) if value == "F" else (),
                        term="VT", round=4, assessed_on=date(2027, 6, 5), published_at=T0,
                        **_base(s, code, group, year, gender[s])), source="/b"))
                lists[5].append(forecasts)
                lists[6].append(grades)
    events: list = []
    for phase in (1, 2, 5, 3, 4, 6):
        rng.shuffle(lists[phase])
        for class_list in lists[phase]:
            events += class_list
    return events


def _base(s: int, code: str, group: str, year: int, gender: str) -> dict:
    return dict(organiser_id=ORGANISER, school_unit_code=code, group_id=group, student_id=f"st-{s}",
                teacher_id="t-1", gender=gender, year=year, school_year="2026/27")


def cells_per_batch(events: list, batch: int, area_of: dict[str, str]) -> dict:
    """Per table and level, the distinct cells the batches of `events` touch (every result and forecast is new
    here, so a cell touched is a row written), divided by the events: the rows per event the apply path writes to
    `assessment_aggregates`, `figure_pass` and `figure_students` (it sums every batch's deltas per cell first)."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for start in range(0, len(events), batch):
        seen: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
        for e in events[start:start + batch]:
            d = e.data
            if not e.type.endswith("assessment.published.v1"):
                continue
            levels = {"group": f"{d.school_unit_code}/{d.group_id}", "school_unit": d.school_unit_code,
                      "area": area_of[d.school_unit_code], "organiser": d.organiser_id, "nation": "SE"}
            rest = (d.subject_code, str(d.school_year), str(d.term), d.round, str(d.kind), str(d.scale), d.year,
                    str(d.gender), d.value)
            for level, unit in levels.items():
                seen["assessment_aggregates"][level].add((unit, *rest))
                for period in (str(d.term), f"R{d.round}"):
                    seen["figure_pass"][level].add((unit, d.subject_code, d.year, str(d.school_year), period))
            for period in (str(d.term), f"R{d.round}"):
                seen["figure_students"]["group"].add((levels["group"], d.subject_code, d.year, str(d.school_year),
                                                      period, d.student_id))
        for table, levels_seen in seen.items():
            for level, cells in levels_seen.items():
                totals[table][level] += len(cells)
    out: dict = {}
    for table, levels_total in totals.items():
        per = {level: round(n / len(events), 3) for level, n in levels_total.items()}
        out[table] = {**per, "total": round(sum(levels_total.values()) / len(events), 3)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=600)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    directory, groups = organisation(args.students)
    area_of = {e.data.school_unit_code: e.data.parent_id for e in directory
               if getattr(e.data, "unit_type", None) == "school_unit"}
    bench = results(random.Random(7), groups)
    shuffled = list(bench)
    random.Random(11).shuffle(shuffled)
    _, real_groups = deadline_organisation(args.students)
    deadline = deadline_results(random.Random(7), real_groups)
    out = {"students": args.students, "batch": args.batch,
           "group_sizes": {"figures_bench": round(args.students / len(set(groups)), 2),
                           "deadline_week": round(args.students / len(set(real_groups)), 2)},
           "figures_bench": cells_per_batch(bench, args.batch, area_of),
           "figures_bench_shuffled": cells_per_batch(shuffled, args.batch, area_of),
           "deadline_week": cells_per_batch(deadline, args.batch, area_of)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
