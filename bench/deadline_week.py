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
import math
import random
import sys
import uuid
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from figures_read import ORGANISER, ROUND_TERM, SUBJECTS, T0, organisation, results  # noqa: E402

from styrkedja_contracts import (  # noqa: E402
    AssessmentPublishedV1,
    ForecastSubmittedV1,
    GroupMembershipUpsertedV1,
    forecast_id_for,
    new_event,
)
from support import LEVELS, Mittkoping, organisation_number  # noqa: E402

CLASS_SIZE = 25
SCHOOL_UNITS = 20


def deadline_organisation(students: int) -> tuple[list, list[tuple[str, str, int]]]:
    """The figures bench's organiser (4 areas × 5 school units), its students in classes of `CLASS_SIZE`
    (`class_places`)."""
    directory, _ = organisation(0)  # the organiser, areas and school units, no students
    codes = [e.data.school_unit_code for e in directory if e.data.unit_type == "school_unit"]
    groups = class_places(students, codes)
    for s, (code, group, _) in enumerate(groups):
        directory.append(new_event(GroupMembershipUpsertedV1(
            membership_id=f"m-{s}", organiser_id=ORGANISER, school_unit_code=code, group_id=group,
            student_id=f"st-{s}", start_date=date(2026, 8, 15), end_date=date(2027, 6, 15), updated_at=T0),
            source="/b"))
    return directory, groups


def class_places(students: int, codes: list[str]) -> list[tuple[str, str, int]]:
    """Per student (school unit code, group, year): class `c` (students `25c … 25c + 24`) in year `6 + c % 4`, school
    unit `(c // 4) % len(codes)`, letter `c // (4 len(codes))` (every year has classes however few the students: year
    9's forecasts and term grades too). Classes stay of `CLASS_SIZE` while there are at most 12 per year and unit."""
    groups = []
    for s in range(students):
        c = s // CLASS_SIZE
        code, year = codes[(c // 4) % len(codes)], 6 + c % 4
        groups.append((code, f"{year}{'ABCDEFGHIJKL'[(c // (4 * len(codes))) % 12]}", year))
    return groups


def deadline_results(rng: random.Random, groups: list[tuple[str, str, int]]) -> list:
    """The figures bench's results (`figures_read.results`: 16 subjects × 4 rounds, year 9's forecasts and term
    grades; the same value distributions) in deadline-week order (`deadline_lists`), as contract events."""
    events: list = []
    for class_list in deadline_lists(rng, groups):
        for r in class_list:
            base = _base(r["s"], r["code"], r["group"], r["year"], r["gender"])
            if r["type"] == "forecast":
                events.append(new_event(ForecastSubmittedV1(
                    forecast_id=forecast_id_for(ORGANISER, base["student_id"], r["subject"], "2026/27", "VT"),
                    revision=1, subject_code=r["subject"], term="VT", value=r["value"],
                    submitted_at=T0 + timedelta(days=200), window_deadline=date(2027, 4, 2), late=False, **base),
                    source="/b"))
                continue
            events.append(new_event(AssessmentPublishedV1(
                assessment_id=r["id"], revision=1, subject_code=r["subject"], kind=r["type"], scale="AF",
                value=r["value"], unmet_criteria=("K1",) if r["value"] == "F" else (), term=ROUND_TERM[r["round"]],
                round=r["round"], assessed_on=assessed_on(r), published_at=T0, **base), source="/b"))
    return events


def assessed_on(r: dict) -> date:
    return date(2027, 6, 5) if r["type"] == "term_grade" else date(2026, 9, 15) + timedelta(days=60 * r["round"])


def deadline_lists(rng: random.Random, groups: list[tuple[str, str, int]], *, year9: bool = True) -> list[list[dict]]:
    """The class lists of `groups`' students (16 subjects × 4 rounds; with `year9`, year 9's forecasts and term
    grades too) in deadline-week order: round by round (the forecasts in the window before round 3's, the term
    grades after round 4's), within a round one class list (a group's students in one subject) after another, the
    class lists of the round in random order (many teachers at once). A list's items are plain fields (`type`:
    assessment, term_grade or forecast; `s`: the student's index in `groups`; `id`: the result's or forecast's):
    the contract events of `deadline_results` and the HTTP bodies of `TermData` are both made from them."""
    by_group: dict[tuple[str, str], list[tuple[int, str, int]]] = defaultdict(list)
    for s, (code, group, year) in enumerate(groups):
        by_group[(code, group)].append((s, group, year))
    gender = {s: rng.choice(("female", "male", "unknown")) for s in range(len(groups))}
    lists: dict[int, list[list[dict]]] = defaultdict(list)  # phase → class lists (phase 5: forecasts, 6: term grades)

    def item(kind: str, s: int, code: str, group: str, year: int, subject: str, round_: int, value: str,
             id_: uuid.UUID) -> dict:
        return {"type": kind, "s": s, "code": code, "group": group, "year": year, "gender": gender[s],
                "subject": subject, "round": round_, "value": value, "id": id_}

    for (code, group), members in by_group.items():
        year = members[0][2]
        for subject in SUBJECTS:
            for round_ in (1, 2, 3, 4):
                out = []
                for s, _, _ in members:
                    value = rng.choice("ABCDEEF")  # drawn before the id, as the events always were
                    out.append(item("assessment", s, code, group, year, subject, round_, value,
                                    uuid.UUID(int=rng.getrandbits(128))))
                lists[round_].append(out)
            if year == 9 and year9:
                forecasts, grades = [], []
                for s, _, _ in members:
                    id_ = uuid.UUID(int=rng.getrandbits(128))
                    forecasts.append(item("forecast", s, code, group, year, subject, 4, rng.choice(
                        ("NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE")), id_))
                    value = rng.choice("ABCDEEF")
                    grades.append(item("term_grade", s, code, group, year, subject, 4, value,
                                       uuid.UUID(int=rng.getrandbits(128))))
                lists[5].append(forecasts)
                lists[6].append(grades)
    ordered: list[list[dict]] = []
    for phase in (1, 2, 5, 3, 4, 6):
        rng.shuffle(lists[phase])
        ordered += lists[phase]
    return ordered


RESULTS_PER_STUDENT = len(SUBJECTS) * 4  # 16 subjects × 4 rounds
STUDENTS_PER_SCHOOL_UNIT = 300  # years 6–9, three classes of 25 a year


def organiser_students(students: int, organisers: int) -> list[int]:
    """How many of `students` each of `organisers` has: whole classes of `CLASS_SIZE` dealt out in turn (the last
    class may be short), or, with fewer classes than organisers, the students split evenly (each at least one)."""
    if not 1 <= organisers <= students:
        raise ValueError(f"{organisers} organisers for {students} students: from 1 to one per student")
    classes = -(-students // CLASS_SIZE)
    if classes < organisers:
        return [students * (o + 1) // organisers - students * o // organisers for o in range(organisers)]
    shares = [0] * organisers
    for c in range(classes):
        shares[c % organisers] += min(CLASS_SIZE, students - c * CLASS_SIZE)
    return shares


@dataclass
class TermData(Mittkoping):
    """The deadline week as `bench/speed.py`'s data (`--shape term`): `organiser_count` organisers (municipalities;
    ids balanced over the topics' partitions, `apply_workers.organiser_ids`, so that with 6 or more every partition
    of every topic holds some), the `students` dealt out to them in whole classes (`organiser_students`), each
    organiser with its own `students` // 300 school units (at least one) in its own areas of about five (two at least
    where it has two units), every student in a class of `CLASS_SIZE` (`class_places`) with 16 subjects × 4 rounds
    of results, posted as the bulk API's bodies in `deadline_lists`' order (the class lists of a round from every
    organiser interleaved; no forecasts or term grades: `students` × 64 results, at 100,000 students the issue's
    6.4M). The organisers, codes and student ids drawn fresh per run like `Mittkoping`'s, whose record (`final`)
    and recomputation (`expected`) it keeps."""

    students: int = 1000
    organiser_count: int = 1

    def __post_init__(self) -> None:
        from apply_workers import organiser_ids

        super().__post_init__()
        fresh = random.Random(uuid.uuid4().int)
        shares = organiser_students(self.students, self.organiser_count)
        self.organisers = tuple(organiser_ids(self.organiser_count, balanced=True,
                                              candidates=iter(lambda: organisation_number(fresh), None)))
        units = [max(1, n // STUDENTS_PER_SCHOOL_UNIT) for n in shares]
        codes = [str(code) for code in fresh.sample(range(10_000_000, 100_000_000), sum(units))]
        self.units, self.areas, self.area_of, self.places, self.organiser_of = {}, {}, {}, [], {}
        for organiser, share, count in zip(self.organisers, shares, units, strict=True):
            mine, codes = codes[:count], codes[count:]
            self.units[organiser] = mine
            areas = min(count, max(2, math.ceil(count / 5)))  # two at least, so the area level compares two
            self.areas[organiser] = [f"area-{self.tag}-{organiser}-{a}" for a in range(areas)]
            self.area_of.update({code: self.areas[organiser][n % areas] for n, code in enumerate(mine)})
            self.organiser_of.update(dict.fromkeys(mine, organiser))
            self.places += class_places(share, mine)
        self.groups = {code: sorted({group for c, group, _ in self.places if c == code}) for code in self.organiser_of}
        self.lists: list[list[dict]] | None = None
        # With `compact`, every result handed out is also counted here, per organiser, as one packed integer
        # (`_pack`), and the recomputation counts these beside `final`: at 6.4M results `final`'s bodies are
        # gigabytes, these 25 MB (bench/speed.py sets it and leaves `final` empty)
        self.compact = False
        self.facts: dict[str, array] = {}

    def new_assessments(self, count: int) -> list[dict]:
        """The next `count` results in deadline-week order (the lists are drawn at the first call)."""
        if self.lists is None:
            self.lists = deadline_lists(self.rng, self.places, year9=False)
            self.order = [r for class_list in self.lists for r in class_list]
        first, self.issued = self.issued, self.issued + count
        if self.issued > len(self.order):
            raise ValueError(f"{self.students} students have {len(self.order)} results, {self.issued} asked for")
        if self.compact:
            for r in self.order[first:self.issued]:
                self.facts.setdefault(self.organiser_of[r["code"]], array("I")).append(_pack(r))
        return [self.with_criteria({
            "organiser_id": self.organiser_of[r["code"]], "school_unit_code": r["code"], "group_id": r["group"],
            "student_id": f"stu-{self.tag}-{r['s']}", "teacher_id": f"t-{r['group']}", "gender": r["gender"],
            "year": r["year"], "subject_code": r["subject"], "kind": "assessment", "scale": "AF", "value": r["value"],
            "school_year": "2026/27", "term": ROUND_TERM[r["round"]], "round": r["round"],
            "assessed_on": assessed_on(r).isoformat()}) for r in self.order[first:self.issued]]

    def release(self) -> None:
        """Drop the drawn lists (at 6.4M results gigabytes of dicts); no result can be handed out after."""
        self.lists, self.order = [], []

    def expected(self, levels: tuple[str, ...] = LEVELS) -> dict[tuple, Counter]:
        cells = super().expected(levels)
        for organiser in self.facts:
            for key, counts in self._facts_cells(organiser, levels).items():
                cells.setdefault(key, Counter()).update(counts)
        return cells

    def expected_of(self, organiser: str, levels: tuple[str, ...] = LEVELS) -> dict[tuple, Counter]:
        cells = super().expected_of(organiser, levels)
        for key, counts in self._facts_cells(organiser, levels).items():
            cells.setdefault(key, Counter()).update(counts)
        return cells

    def _facts_cells(self, organiser: str, levels: tuple[str, ...]) -> dict[tuple, Counter]:
        cells: dict[tuple, Counter] = {}
        for packed in self.facts.get(organiser, ()):
            s, subject, round_, value = _unpack(packed)
            code, group, _ = self.places[s]
            units = {"student": f"stu-{self.tag}-{s}", "group": f"{code}/{group}", "school_unit": code,
                     "area": self.area_of.get(code) if self.placed else None, "organiser": organiser, "nation": "SE"}
            for level in levels:
                if units[level] is None:
                    continue
                key = (level, units[level], subject, "2026/27", ROUND_TERM[round_], round_, "assessment", "AF")
                cells.setdefault(key, Counter())[value] += 1
        return cells

    def my_units(self) -> set[str]:
        return super().my_units() | {f"stu-{self.tag}-{_unpack(p)[0]}" for facts in self.facts.values() for p in facts}

    def units_of(self, organiser: str) -> set[str]:
        return super().units_of(organiser) | {f"stu-{self.tag}-{_unpack(p)[0]}" for p in self.facts.get(organiser, ())}


#: a result's value on the AF scale as the 3 low bits of its packed fact
AF_VALUES = "ABCDEF"


def _pack(r: dict) -> int:
    """A result of `deadline_lists` (its student's index, subject, round and value: all its cells need besides the
    run's constants) as one integer: student << 9 | subject << 5 | (round - 1) << 3 | value."""
    return r["s"] << 9 | SUBJECTS.index(r["subject"]) << 5 | (r["round"] - 1) << 3 | AF_VALUES.index(r["value"])


def _unpack(packed: int) -> tuple[int, str, int, str]:
    return packed >> 9, SUBJECTS[packed >> 5 & 15], (packed >> 3 & 3) + 1, AF_VALUES[packed & 7]


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
