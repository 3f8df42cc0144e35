"""The pure rules of reporting's support figures: below the pass level without support (the
newest result per student and subject; an all-subject intervention covers every subject; only
active interventions count), the day support started and the before/after split by date."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import date
from uuid import UUID, uuid5

from styrkedja_reporting.results.rules import AssessmentFact
from styrkedja_reporting.support.rules import (
    NEWEST_FIELDS,
    NewestResult,
    SupportFact,
    below_pass_cells,
    below_pass_change,
    phase,
    student_cells,
    support_starts,
)

NS = UUID("5b1f0c1e-0000-4000-8000-00000000abcd")
ORG, CODE, AREA = "2999", "12345678", "area-nord"
PLACED = {CODE: AREA}


def result(student: str, value: str, *, subject: str = "GRGRMAT01", round_: int = 1, term: str = "HT",
           school_year: str = "2026/27", kind: str = "assessment", group: str = "7A", tag: str = "") -> AssessmentFact:
    return AssessmentFact(uuid5(NS, f"{student}{subject}{round_}{term}{school_year}{kind}{tag}"), 1, False, ORG,
                          CODE, group, student, "female", 7, subject, kind, "AF", value, school_year, term, round_,
                          date(2026, 10, 1))


def support(student: str, *, subject: str = "GRGRMAT01", status: str = "decided", start: str = "2026-09-01",
            kind: str = "extra_adjustment", retracted: bool = False) -> SupportFact:
    return SupportFact(uuid5(NS, f"{student}{subject}{status}{start}{kind}"), 1, retracted, ORG, CODE, "7A", student,
                       kind, status, subject, start, "", "")


def below(results, supports) -> set[tuple[str, ...]]:
    cells = below_pass_cells(results, supports)
    assert all(n == 1 for n in cells.values())
    return set(cells)


def test_the_newest_result_decides_and_it_is_one_row_at_its_group():
    """The levels above the group are read from the group rows (apply34): one row per student × subject."""
    cells = below_pass_cells([result("s-1", "F", round_=2), result("s-1", "C", round_=1, group="7B")], [])
    assert cells == {("group", f"{CODE}/7A", ORG, "GRGRMAT01", "s-1"): 1}
    assert below_pass_cells([result("s-1", "C", round_=2), result("s-1", "F", round_=1, group="7B")], []) == {}
    assert below([result("s-1", "F", round_=1), result("s-1", "C", round_=2)], []) == set()
    # VT after HT; the next school year after both; a term grade over an assessment of the same round
    assert below([result("s-1", "C", term="VT"), result("s-1", "F", term="HT", round_=4)], []) == set()
    assert below([result("s-1", "F", school_year="2027/28"), result("s-1", "A", term="VT", round_=4)], []) != set()
    assert below([result("s-1", "F", kind="term_grade"), result("s-1", "C")], []) != set()


def test_only_active_support_in_the_subject_or_for_all_subjects_takes_a_student_off():
    failing = [result("s-1", "F"), result("s-1", "F", subject="GRGRSVE01")]
    assert len(below(failing, [])) == 2
    assert below(failing, [support("s-1")]) == {("group", f"{CODE}/7A", ORG, "GRGRSVE01", "s-1")}
    assert below(failing, [support("s-1", subject="")]) == set()  # all subjects
    for status in ("proposed", "evaluated", "closed"):
        assert len(below(failing, [support("s-1", status=status)])) == 2, status
    assert len(below(failing, [support("s-1", retracted=True)])) == 2
    assert len(below(failing, [support("s-2", subject="")])) == 2  # another student's


def test_support_starts_on_the_earliest_started_intervention_and_the_day_itself_is_after():
    starts = support_starts([support("s-1", start="2026-09-10"), support("s-1", start="2026-08-20", kind="x"),
                             support("s-1", status="proposed", start="2026-01-01"),
                             support("s-1", subject="", start="2026-01-02")])
    assert starts == {(ORG, "s-1", "GRGRMAT01"): date(2026, 8, 20)}
    assert phase(date(2026, 8, 19), date(2026, 8, 20)) == "before"
    assert phase(date(2026, 8, 20), date(2026, 8, 20)) == "after"


def test_the_per_student_rows_carry_no_free_text_and_nothing_when_retracted():
    fact = support("s-1", status="in_progress")
    rows = student_cells(fact, PLACED)
    assert len(rows) == 4 and all(k[-1] == "s-1" and k[-2] == "2026-09-01" for k in rows)  # four levels kept
    assert student_cells(support("s-1", retracted=True), PLACED) == {}


def test_the_change_per_key_equals_the_difference_of_the_two_states():
    """`below_pass_change` (a batch of results: only the keys whose newest result differs are expanded) equals
    `below_pass_cells(after) − below_pass_cells(before)` over random states: new rounds, revisions (to another value,
    subject, group or school unit), retractions, results older than the newest, keys with no result left, supported
    students (a subject's, every subject's; an inactive one does not count), another school unit."""
    for seed in range(200):
        rng = random.Random(seed)
        students = [f"s-{n}" for n in range(6)]
        subjects = ("GRGRMAT01", "GRGRENG01")

        unchanged = [_some_result(rng, students, subjects, f"u{n}") for n in range(rng.randint(0, 12))]
        before, after = [], []
        for n in range(rng.randint(1, 8)):
            new = _some_result(rng, students, subjects, f"c{n}")
            roll = rng.random()
            if roll < 0.5:  # a new result
                after.append(new)
            else:  # a revision or retraction of a stored one (its old version, perhaps in another key)
                old = replace(_some_result(rng, students, subjects, f"c{n}"), assessment_id=new.assessment_id)
                before.append(old)
                after.append(replace(new, retracted=True) if roll < 0.65 else new)
        supports = [support(rng.choice(students), subject=rng.choice((*subjects, "")),
                            status=rng.choice(("decided", "in_progress", "closed")), start=f"2026-09-0{k + 1}")
                    for k in range(rng.randint(0, 3))]
        expected = Counter(below_pass_cells(unchanged + after, supports))
        expected.subtract(below_pass_cells(unchanged + before, supports))
        got = below_pass_change(unchanged, before, after, supports)
        assert {k: n for k, n in got.items() if n} == {k: n for k, n in expected.items() if n}, seed
        # the unchanged results as the apply path reads them: the rule's columns only (`NewestResult`), the same
        # change, and the same cells beside the batch's facts
        read = [NewestResult(**{name: getattr(f, name) for name in NEWEST_FIELDS}) for f in unchanged]
        assert below_pass_change(read, before, after, supports) == got, seed
        assert below_pass_cells(read + after, supports) == below_pass_cells(unchanged + after, supports), seed


def _some_result(rng: random.Random, students: list[str], subjects: tuple[str, ...], tag: str) -> AssessmentFact:
    fact = result(rng.choice(students), rng.choice("ABCDEFF"), subject=rng.choice(subjects), round_=rng.randint(1, 4),
                  term=rng.choice(("HT", "VT")), kind=rng.choice(("assessment", "term_grade")),
                  group=rng.choice(("7A", "7B")), tag=tag)
    return replace(fact, school_unit_code=rng.choice((CODE, "87654321")))
