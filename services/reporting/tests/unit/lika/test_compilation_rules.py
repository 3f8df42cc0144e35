"""The compilation rules: latest per unit and school form, plan status per indicator, to-do
filters, ownership, and the organiser over time."""

from __future__ import annotations

from datetime import UTC, date, datetime

from styrkedja_reporting.lika import rules
from styrkedja_reporting.lika.rules import Activity, Filters, Place, SelfAssessment

ORG = "2120000142"
T = datetime(2026, 10, 1, 8, tzinfo=UTC)


def sa(sa_id: str, unit: str, at: datetime, ratings: dict[str, str], form: str = "grundskola") -> SelfAssessment:
    return SelfAssessment(sa_id, ORG, unit, form, "rektor", "2026.1", at,
                          [{"indicator_id": i, "area": "ledning" if i.startswith("L") else "kompetens",
                            "rating": r, "comment": f"kommentar {i}"} for i, r in ratings.items()])


def act(aid: str, indicator: str, status: str, priority: int, due: date | None = None, tags=()) -> Activity:
    return Activity(aid, indicator, "ledning" if indicator.startswith("L") else "kompetens", int(aid[-1]),
                    f"Gör {aid}", status, priority, "rektor", due, tuple(tags))


def test_ownership_hides_another_organisers_unit_and_shows_an_unknown_one():
    assert rules.visible_to(ORG, {ORG})
    assert rules.visible_to(ORG, set())  # unknown to the directory: held, unplaced
    assert rules.visible_to(ORG, {ORG, "2120000159"})  # placed under both: still its own
    assert not rules.visible_to(ORG, {"2120000159"})


def test_school_year_turns_on_the_first_of_july_swedish_time():
    assert rules.school_year_of(datetime(2026, 6, 30, 21, 59, tzinfo=UTC)) == "2025/26"
    assert rules.school_year_of(datetime(2026, 6, 30, 22, 0, tzinfo=UTC)) == "2026/27"  # 00:00 CEST
    assert rules.previous_school_year("2000/01") == "1999/00"


def test_cells_use_the_latest_per_unit_and_school_form_with_the_plan_status():
    old = sa("a1", "11111111", T, {"L1": "NOT_PLANNED", "K1": "STARTED"})
    new = sa("a2", "11111111", T.replace(month=11), {"L1": "PLANNED", "K1": "NOT_RELEVANT"})
    other_form = sa("a3", "11111111", T, {"L1": "ACHIEVED"}, form="gymnasieskola")
    plans = {"a2": (3, [act("x1", "L1", "done", 1), act("x2", "L1", "planned", 2, date(2027, 3, 1)),
                        act("x3", "L1", "in_progress", 3, date(2027, 1, 1))])}
    places = {"11111111": Place("north", "Norrskolan")}
    cells = rules.compile_cells([old, new, other_form], plans, places)
    by = {(c.school_form, c.indicator_id): c for c in cells}
    assert set(by) == {("grundskola", "L1"), ("grundskola", "K1"), ("gymnasieskola", "L1")}
    l1 = by[("grundskola", "L1")]
    assert (l1.self_assessment_id, l1.rating, l1.level, l1.comment) == ("a2", "PLANNED", 1, "kommentar L1")
    assert (l1.plan_revision, l1.activities, l1.plan_status, l1.top_priority, l1.next_due) == \
        (3, 3, "in_progress", 2, date(2027, 1, 1))
    assert l1.status_counts == {"planned": 1, "in_progress": 1, "done": 1, "dropped": 0}
    assert by[("grundskola", "K1")].level is None and by[("grundskola", "K1")].plan_status is None
    assert l1.area_id == "north" and l1.school_unit_name == "Norrskolan"


def test_filters_area_form_indicator_and_unplaced_units():
    a = sa("a1", "11111111", T, {"L1": "PLANNED", "K1": "STARTED"})
    b = sa("b1", "22222222", T, {"L1": "STARTED"})
    c = sa("c1", "33333333", T, {"L1": "ACHIEVED"}, form="forskola")  # unknown to the directory
    places = {"11111111": Place("north"), "22222222": Place("south")}
    everything = rules.compile_cells([a, b, c], {}, places)
    assert [(x.area_id, x.school_unit_code) for x in everything][-1] == (None, "33333333")  # unplaced last
    assert {x.school_unit_code for x in rules.compile_cells([a, b, c], {}, places, Filters(area_id="north"))} == \
        {"11111111"}
    assert {x.school_unit_code for x in rules.compile_cells([a, b, c], {}, places, Filters(school_form="forskola"))} \
        == {"33333333"}
    assert {(x.school_unit_code, x.indicator_id) for x in rules.compile_cells(
        [a, b, c], {}, places, Filters(indicator_id="K1"))} == {("11111111", "K1")}
    assert {x.indicator_id for x in rules.compile_cells([a, b, c], {}, places, Filters(lika_area="kompetens"))} == \
        {"K1"}


def test_planned_priority_one_is_the_todo_list_ordered_by_due_date():
    a = sa("a1", "11111111", T, {"L1": "PLANNED", "K1": "STARTED"})
    b = sa("b1", "22222222", T, {"L1": "PLANNED"})
    plans = {"a1": (1, [act("x1", "L1", "planned", 1), act("x2", "K1", "planned", 2), act("x3", "K1", "done", 1)]),
             "b1": (2, [act("y1", "L1", "planned", 1, date(2027, 2, 1), tags=["Digitalt"])])}
    places = {"11111111": Place("north"), "22222222": Place("south")}
    todo = rules.activities([a, b], plans, places, status="planned", priority=1)
    assert [(r.school_unit_code, r.activity.activity_id, r.rating) for r in todo] == \
        [("22222222", "y1", "PLANNED"), ("11111111", "x1", "PLANNED")]  # a due date first
    assert [r.activity.activity_id for r in rules.activities([a, b], plans, places, tag="digitalt")] == ["y1"]
    assert [r.activity.activity_id for r in rules.activities([a, b], plans, places, Filters(area_id="north"),
                                                             status="planned")] == ["x1", "x2"]


def test_over_time_compares_each_units_latest_of_each_school_year():
    last_year = T.replace(year=2025)
    log = [sa("a0", "11111111", last_year, {"L1": "PLANNED", "L2": "ACHIEVED"}),
           sa("a1", "11111111", T, {"L1": "NOT_PLANNED", "L2": "ACHIEVED"}),  # replaced by a2 this year
           sa("a2", "11111111", T.replace(month=12), {"L1": "STARTED", "L2": "ACHIEVED"}),
           sa("b0", "22222222", last_year, {"L1": "STARTED"}),
           sa("b1", "22222222", T, {"L1": "PLANNED"}),
           sa("c1", "33333333", T, {"L1": "NOT_RELEVANT"})]
    rows = {(r.lika_area, r.indicator_id): r for r in rules.over_time(log, {}, "2026/27", "2025/26")}
    l1 = rows[("ledning", "L1")]
    assert (l1.units_now, l1.mean_now, l1.units_before, l1.mean_before) == (2, 1.5, 2, 1.5)
    assert (l1.change, l1.improved, l1.unchanged, l1.declined) == (0.0, 1, 0, 1)
    area = rows[("ledning", None)]  # mean of the unit means: unit 1 (2+4)/2 → 3, unit 2 → 1
    assert (area.mean_now, area.mean_before) == (2.0, (2.5 + 2) / 2)
    assert list(rows)[0] == ("ledning", None)  # the area first, then its indicators


def test_owner_and_tag_filters_match_however_the_letters_were_typed():
    """"Å" as one character or as "A" and a combining ring, in any case, on either side (a stored plan from before
    names were normalised, a query typed on a Mac): the same owner, the same tag. Failed on the old code: []."""
    import dataclasses
    import unicodedata

    nfd = unicodedata.normalize("NFD", "Ärlig Åtgärd")
    a = sa("a1", "11111111", T, {"L1": "PLANNED"})
    plans = {"a1": (1, [dataclasses.replace(act("x1", "L1", "planned", 1, tags=[nfd]), owner=f"Lärarlag {nfd}")])}
    places = {"11111111": Place("north")}
    for typed in ("ÄRLIG ÅTGÄRD", "ärlig åtgärd", unicodedata.normalize("NFD", "ärlig åtgärd")):
        assert [r.activity.activity_id for r in rules.activities([a], plans, places, tag=typed)] == ["x1"], typed
        owner = f"lärarlag {typed}"
        assert [r.activity.activity_id for r in rules.activities([a], plans, places, owner=owner)] == ["x1"], typed
    assert rules.activities([a], plans, places, tag="Arlig Atgard") == []  # the letters still count


def test_over_time_counts_a_self_assessment_in_the_school_year_it_is_about():
    """Assessed 30 June, published 1 July (Swedish time): about the school year ending that June, as the LIKA tool
    lists it by its day — not the next one, by the day it was published. Failed on the old code: counted in 2026/27.
    An event without the day (made before it was sent) falls back to `published_at`'s day in Sweden."""
    import dataclasses

    published = datetime(2026, 6, 30, 22, 30, tzinfo=UTC)  # 00:30 on 1 July in Sweden
    about_june = dataclasses.replace(sa("a1", "11111111", published, {"L1": "STARTED"}), assessed_on=date(2026, 6, 30))
    no_day = sa("b1", "22222222", published, {"L1": "PLANNED"})
    assert rules.school_year_about(about_june) == "2025/26" and rules.school_year_about(no_day) == "2026/27"
    rows = {(r.lika_area, r.indicator_id): r for r in rules.over_time([about_june, no_day], {}, "2026/27", "2025/26")}
    l1 = rows[("ledning", "L1")]
    assert (l1.units_now, l1.mean_now, l1.units_before, l1.mean_before) == (1, 1.0, 1, 2.0)
