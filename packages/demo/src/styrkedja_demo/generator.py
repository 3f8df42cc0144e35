"""Mittköping, generated. Pure and deterministic: the same seed and size give the same
municipality, the same ids and the same results, so that publishing it again changes nothing.

Results follow a simple model: every student has a latent ability, every school a small effect,
girls a small advantage in the languages (as in Skolverket's statistics), and each result is the
ability plus noise, cut into the scale. The story (`story.py`) moves some of these on purpose.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

from .story import (
    KIND_YEARS,
    LANGUAGES,
    MAT,
    STORY,
    SVA,
    SVE,
    TEACHING_BUNDLES,
    Round,
    Story,
    stage,
    timetable,
)

NAMESPACE = UUID("6d1c7e0a-5c1b-4f4e-9a53-6d6974746b70")  # "Mittköping"

GIVEN_F = ("Alice", "Maja", "Elsa", "Astrid", "Wilma", "Freja", "Olivia", "Selma", "Alma", "Ella", "Ebba", "Vera",
           "Saga", "Agnes", "Nora", "Stella", "Lilly", "Ines", "Signe", "Leah", "Amira", "Sara", "Hanna", "Klara")
GIVEN_M = ("Noah", "William", "Hugo", "Lucas", "Liam", "Oscar", "Elias", "Matteo", "Adam", "Ludvig", "Nils",
           "Theo", "Leo", "Alexander", "Vincent", "Arvid", "Sixten", "Ali", "Omar", "Frans", "Malte", "Viggo")
FAMILY = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
          "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg", "Lindqvist", "Berg", "Holm", "Ali",
          "Mohammed", "Nguyen", "Virtanen", "Kovač", "Ahmadi", "Lund", "Sandberg", "Ek", "Björk", "Wikström")

AF = ("F", "E", "D", "C", "B", "A")
AF_CUTS = (-1.15, -0.35, 0.15, 0.65, 1.15)  # F below the first cut, A above the last
THREE = ("NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE")
THREE_CUTS = (-1.15, 0.65)
#: girls' small advantage in the languages, boys' in nothing much (latent units)
GIRLS_LANGUAGE_EDGE = 0.2
LANGUAGE_SUBJECTS = frozenset({SVE, SVA, "GRGRENG01", *LANGUAGES})
SUBJECT_EASE = {MAT: -0.1, SVA: -0.3}


def _uuid(*parts: object) -> str:
    return str(uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


@dataclass(frozen=True)
class Area:
    id: str
    name: str


@dataclass(frozen=True)
class SchoolUnit:
    id: str
    code: str  # skolenhetskod, 8 ASCII digits
    name: str
    kind: str
    area_id: str
    years: tuple[int, ...]

    @property
    def special(self) -> bool:
        return self.kind == "anpassad"


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    unit_id: str
    year: int


@dataclass(frozen=True)
class Student:
    id: str  # SS 12000 person id: the pseudonymous student id
    group_id: str
    gender: str
    given_name: str
    family_name: str
    subjects: tuple[str, ...]
    ability: float


@dataclass(frozen=True)
class Teacher:
    id: str
    unit_id: str
    team: str  # arbetslag: the stage it works in
    given_name: str
    family_name: str
    duty_id: str


@dataclass(frozen=True)
class Assignment:
    """An SS 12000 activity: one teacher teaches one group one subject."""

    id: str
    group_id: str
    teacher_id: str
    subject_code: str


@dataclass(frozen=True)
class Principal:
    id: str
    unit_id: str
    given_name: str
    family_name: str
    duty_id: str


@dataclass(frozen=True)
class LikaPlan:
    """One self-assessment the publisher makes: its ratings, and what happens after."""

    id: str
    unit_code: str
    school_form: str
    respondent_role: str
    maturity: float  # 0 (ej planerad) … 4 (uppnådd): where the unit's ratings centre
    publish: bool
    #: the seed of the stable draw of the action plan's item statuses
    plan_seed: int


@dataclass
class Municipality:
    story: Story
    seed: int
    organiser_id: str  # the SS 12000 organisation id of the huvudman
    areas: list[Area]
    units: list[SchoolUnit]
    groups: list[Group]
    students: list[Student]
    teachers: list[Teacher]
    principals: list[Principal]
    assignments: list[Assignment]
    assessments: list[dict[str, Any]] = field(default_factory=list)
    forecasts: list[dict[str, Any]] = field(default_factory=list)
    lika: list[LikaPlan] = field(default_factory=list)

    @property
    def organiser_code(self) -> str:
        return self.story.organiser_code

    def unit_named(self, name: str) -> SchoolUnit:
        return next(u for u in self.units if u.name == name)


def _unit_code(seed: int, name: str, taken: set[str]) -> str:
    n = 0
    while True:
        digest = hashlib.sha256(f"{seed}/{name}/{n}".encode()).hexdigest()
        code = f"{int(digest, 16) % 90_000_000 + 10_000_000:08d}"
        if code not in taken:
            taken.add(code)
            return code
        n += 1


def _draw(rng: random.Random, mix: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _ in mix], weights=[w for _, w in mix])[0]


def _cut(score: float, cuts: tuple[float, ...], values: tuple[str, ...]) -> str:
    for cut, value in zip(cuts, values, strict=False):
        if score < cut:
            return value
    return values[len(cuts)]


def generate(seed: int = 1, students: int | None = None, story: Story = STORY) -> Municipality:
    """The municipality, its directory and its results for `seed`; `students` scales it."""
    total = story.students if students is None else students
    if total < 50:
        raise ValueError("at least 50 students")
    rng = random.Random(seed)
    muni = Municipality(story=story, seed=seed, organiser_id=_uuid(seed, "organiser"), areas=[], units=[],
                        groups=[], students=[], teachers=[], principals=[], assignments=[])
    area_ids = {}
    for name in story.areas:
        area = Area(_uuid(seed, "area", name), f"Verksamhetsområde {name}")
        muni.areas.append(area)
        area_ids[name] = area.id
    codes: set[str] = set()
    for school in story.schools:
        muni.units.append(SchoolUnit(_uuid(seed, "unit", school.name), _unit_code(seed, school.name, codes),
                                     school.name, school.kind, area_ids[school.area], KIND_YEARS[school.kind]))

    special = min(story.special_school_students, max(9, total // 100))
    cohort = (total - special) / 10
    weight = {u.id: rng.uniform(0.75, 1.25) for u in muni.units}
    for unit in muni.units:
        for year in unit.years:
            if unit.special:
                count = special // len(unit.years) + (1 if year - 1 < special % len(unit.years) else 0)
            else:
                serving = [u for u in muni.units if not u.special and year in u.years]
                share = weight[unit.id] / sum(weight[u.id] for u in serving)
                count = max(1, round(cohort * share))
            _make_groups(muni, rng, unit, year, count)
    _make_staff(muni, rng)
    _make_assessments(muni, rng)
    _make_forecasts(muni, rng)
    _make_lika(muni, rng)
    return muni


def _make_groups(muni: Municipality, rng: random.Random, unit: SchoolUnit, year: int, count: int) -> None:
    story = muni.story
    n_groups = max(1, round(count / story.class_size))
    label = "F" if year == 0 else str(year)
    groups = []
    for g in range(n_groups):
        name = f"{label}{chr(ord('A') + g)}" if not unit.special else f"{label}{chr(ord('A') + g)} (anpassad)"
        group = Group(_uuid(muni.seed, "group", unit.code, year, g), name, unit.id, year)
        groups.append(group)
        muni.groups.append(group)
    for n in range(count):
        group = groups[n % n_groups]
        gender = _draw(rng, story.gender_mix)
        given = rng.choice(GIVEN_F if gender == "female" else GIVEN_M if gender == "male" else GIVEN_F + GIVEN_M)
        subjects = list(timetable(year))
        if subjects and rng.random() < story.second_language_share:
            subjects[subjects.index(SVE)] = SVA
        if year >= 6 and rng.random() >= story.no_language_share:
            subjects.append(rng.choice(LANGUAGES))
        muni.students.append(Student(_uuid(muni.seed, "student", unit.code, year, n), group.id, gender, given,
                                     rng.choice(FAMILY), tuple(subjects), rng.gauss(0, 1)))


def _make_staff(muni: Municipality, rng: random.Random) -> None:
    groups_of: dict[tuple[str, str], list[Group]] = defaultdict(list)
    for group in muni.groups:
        if group.year > 0:
            groups_of[(group.unit_id, stage(group.year))].append(group)
    for unit in muni.units:
        given = rng.choice(GIVEN_F + GIVEN_M)
        pid = _uuid(muni.seed, "principal", unit.code)
        muni.principals.append(Principal(pid, unit.id, given, rng.choice(FAMILY), _uuid(muni.seed, "duty", pid)))
        for team in ("F-3", "4-6", "7-9"):
            groups = groups_of.get((unit.id, team), [])
            for b, (bundle, per_teacher) in enumerate(TEACHING_BUNDLES[team]):
                for start in range(0, len(groups), per_teacher):
                    tid = _uuid(muni.seed, "teacher", unit.code, team, b, start)
                    teacher = Teacher(tid, unit.id, team, rng.choice(GIVEN_F + GIVEN_M), rng.choice(FAMILY),
                                      _uuid(muni.seed, "duty", tid))
                    muni.teachers.append(teacher)
                    for group in groups[start:start + per_teacher]:
                        for subject in bundle:
                            if subject in timetable(group.year) or subject == SVA or (
                                    subject in LANGUAGES and group.year >= 6):
                                muni.assignments.append(Assignment(
                                    _uuid(muni.seed, "activity", group.id, subject), group.id, tid, subject))


@dataclass(frozen=True)
class _Context:
    unit: SchoolUnit
    group: Group
    teachers: dict[str, str]  # subject → teacher id


def _contexts(muni: Municipality) -> dict[str, _Context]:
    units = {u.id: u for u in muni.units}
    teachers: dict[str, dict[str, str]] = defaultdict(dict)
    for a in muni.assignments:
        teachers[a.group_id][a.subject_code] = a.teacher_id
    return {g.id: _Context(units[g.unit_id], g, teachers[g.id]) for g in muni.groups}


def _score(muni: Municipality, student: Student, ctx: _Context, subject: str, round_index: int, noise: float) -> float:
    story = muni.story
    score = student.ability + _school_effect(muni, ctx.unit) + SUBJECT_EASE.get(subject, 0.0) + noise
    if student.gender == "female" and subject in LANGUAGE_SUBJECTS:
        score += GIRLS_LANGUAGE_EDGE
    if ctx.unit.name == story.gap_school and subject == story.gap_subject and student.gender == "male":
        score += story.gap_shift_boys
    if ctx.unit.name == story.dip_school and subject == story.dip_subject and round_index == len(story.rounds) - 1:
        score -= story.dip_shift
    return score


def _school_effect(muni: Municipality, unit: SchoolUnit) -> float:
    digest = hashlib.sha256(f"{muni.seed}/effect/{unit.code}".encode()).digest()
    return (digest[0] / 255 - 0.5) * 0.5  # ±0.25


def _criteria(subject: str) -> list[str]:
    return [f"Kunskapskraven för betyget E i {subject} är inte uppfyllda",
            "Eleven behöver visa fler av kunskaperna i det centrala innehållet"]


def _base(muni: Municipality, student: Student, ctx: _Context, subject: str) -> dict[str, Any]:
    return {"organiser_id": muni.organiser_code, "school_unit_code": ctx.unit.code, "group_id": ctx.group.id,
            "student_id": student.id, "teacher_id": ctx.teachers[subject],
            "gender": student.gender, "year": ctx.group.year, "subject_code": subject}


def _make_assessments(muni: Municipality, rng: random.Random) -> None:
    story = muni.story
    contexts = _contexts(muni)
    for student in muni.students:
        ctx = contexts[student.group_id]
        for r, rnd in enumerate(story.rounds):
            if ctx.unit.name == story.stale_school and r > story.stale_last_round:
                continue
            year = ctx.group.year
            if year < 1:
                continue
            for subject in student.subjects:
                if subject not in story.assessed_subjects:
                    continue
                noise = rng.gauss(0, 0.45)
                if rng.random() < story.missing_assessment_share:
                    continue
                score = _score(muni, student, ctx, subject, r, noise)
                muni.assessments.append(_assessment(muni, student, ctx, subject, rnd, year, score, "assessment"))
        for term in story.grade_terms:
            year = ctx.group.year
            if year not in story.graded_years:
                continue
            if ctx.unit.name == story.stale_school and term.assessed_on > story.rounds[story.stale_last_round].assessed_on:
                continue
            for subject in student.subjects:
                score = _score(muni, student, ctx, subject, -1, rng.gauss(0, 0.45))
                muni.assessments.append(_assessment(muni, student, ctx, subject, term, year, score, "term_grade"))


def _assessment(muni: Municipality, student: Student, ctx: _Context, subject: str, rnd: Round, year: int,
                score: float, kind: str) -> dict[str, Any]:
    # years 1–5 are assessed on the three-level scale; grades (and assessments from year 6) on A–F,
    # A–E in the anpassad grundskola
    if kind == "assessment" and year <= 5:
        scale, value = "THREE_LEVEL", _cut(score, THREE_CUTS, THREE)
    else:
        scale, value = "AF", _cut(score, AF_CUTS, AF)
        if ctx.unit.special and value == "F":
            value = "E"
    below = value in ("F", "NOT_REACHED")
    return {"assessment_id": _uuid(muni.seed, kind, student.id, subject, rnd.school_year, rnd.term, rnd.round),
            **_base(muni, student, ctx, subject), "year": year, "kind": kind, "scale": scale, "value": value,
            "unmet_criteria": _criteria(subject) if below else [], "school_year": rnd.school_year,
            "term": rnd.term, "round": rnd.round, "assessed_on": rnd.assessed_on.isoformat()}


def _make_forecasts(muni: Municipality, rng: random.Random) -> None:
    story = muni.story
    contexts = _contexts(muni)
    silent_unit, silent_team = story.silent_team
    current = story.forecast_terms[-1]
    for student in muni.students:
        ctx = contexts[student.group_id]
        if ctx.unit.special:
            continue
        windows = list(story.forecast_terms)
        if ctx.unit.name in story.early_schools:
            windows.append(story.early_window)
        for f, (school_year, term) in enumerate(windows):
            year = ctx.group.year
            if year not in story.forecast_years:
                continue
            silent = (ctx.unit.name == silent_unit and stage(ctx.group.year) == silent_team
                      and (school_year, term) == current)
            # forecasts for this window and the coming one follow this term's results (the dip included)
            round_index = f if f < len(story.forecast_terms) - 1 else len(story.rounds) - 1
            for subject in student.subjects:
                if subject not in story.forecast_subjects:
                    continue
                noise = rng.gauss(0, 0.5)
                if silent or rng.random() < story.missing_forecast_share:
                    continue
                score = _score(muni, student, ctx, subject, round_index, noise)
                muni.forecasts.append({**_base(muni, student, ctx, subject), "year": year, "school_year": school_year,
                                       "term": term, "value": _cut(score, THREE_CUTS, THREE)})


def _make_lika(muni: Municipality, rng: random.Random) -> None:
    """Ratings are left as levels here (0–4); the publisher maps them onto the catalogue's indicators,
    which it reads from the LIKA service, so that the generator needs no catalogue."""
    story = muni.story
    for unit in muni.units:
        maturity = 3.6 if unit.name == story.lika_ahead else 0.4 if unit.name == story.lika_behind else \
            rng.uniform(1.2, 2.8)
        roles = ("rektor", "teacher_team") if unit.name == story.lika_two_raters else ("rektor",)
        for role in roles:
            shift = -0.6 if role == "teacher_team" else 0.0  # teams tend to rate lower than principals
            muni.lika.append(LikaPlan(
                _uuid(muni.seed, "lika", unit.code, role, story.lika_catalogue), unit.code, "grundskola", role,
                round(max(0.0, min(4.0, maturity + shift)), 2),
                publish=unit.name not in story.lika_drafts, plan_seed=rng.randrange(1 << 30)))


RATING_STEPS = ("NOT_PLANNED", "PLANNED", "STARTED", "ALMOST_THERE", "ACHIEVED")


def lika_ratings(plan: LikaPlan, indicator_ids: list[str]) -> dict[str, str]:
    """A rating for every indicator: the unit's maturity plus a stable per-indicator spread."""
    maturity = plan.maturity
    rng = random.Random(f"{plan.id}/ratings")
    out = {}
    for indicator in indicator_ids:
        level = round(maturity + rng.gauss(0, 0.8))
        out[indicator] = RATING_STEPS[max(0, min(4, level))]
    return out


def action_statuses(plan: LikaPlan, activity_ids: list[str], story: Story = STORY) -> dict[str, str]:
    """The status each action-plan item should have (only those that are not `planned`)."""
    rng = random.Random(plan.plan_seed)
    statuses = {a: _draw(rng, story.action_status_mix) for a in activity_ids}
    return {a: s for a, s in statuses.items() if s != "planned"}


def story_lines(muni: Municipality) -> list[str]:
    """The story in words, with the school unit codes of this seed: what to look for."""
    story = muni.story

    def unit(name: str) -> str:
        return f"{name} ({muni.unit_named(name).code})"

    current = story.rounds[-1]
    window = " ".join(reversed(story.forecast_terms[-1]))
    return [
        f"mathematics drops this term ({current.term} {current.school_year}, round {current.round}) at "
        f"{unit(story.dip_school)}",
        f"boys fall far behind girls in Swedish at {unit(story.gap_school)}",
        f"no results since {story.rounds[story.stale_last_round].assessed_on} at {unit(story.stale_school)}",
        f"teacher team {story.silent_team[1]} at {unit(story.silent_team[0])} has not reported forecasts for {window}",
        f"LIKA: far ahead {unit(story.lika_ahead)}, far behind {unit(story.lika_behind)}; "
        f"rated by principal and teacher team {unit(story.lika_two_raters)}; only drafts at "
        + ", ".join(unit(n) for n in story.lika_drafts),
    ]
