"""The generated action plan: selection, ordering with dependencies, terms, filters."""

from __future__ import annotations

import random

import pytest

from styrkedja_lika.domain import (
    Area,
    Catalogue,
    OwnerRole,
    Rating,
    SchoolTerm,
    generate_action_plan,
)

NP, PL, ST, AT = Rating.NOT_PLANNED, Rating.PLANNED, Rating.STARTED, Rating.ALMOST_THERE
P, ICT, TT, CO, IT = (
    OwnerRole.PRINCIPAL,
    OwnerRole.ICT_COORDINATOR,
    OwnerRole.TEACHER_TEAM,
    OwnerRole.CENTRAL_OFFICE,
    OwnerRole.IT_DEPARTMENT,
)
START = SchoolTerm.parse("HT 2026/27")


def _ids(plan) -> list[str]:
    return [i.activity_id for i in plan.items]


@pytest.fixture
def mini(build_catalogue) -> Catalogue:
    """Four indicators; the USE one's priority-1 activity needs an INFRASTRUCTURE priority-3 one."""
    return build_catalogue(
        [
            ("GR-LED-01", Area.LEADERSHIP, [
                ("GR-LED-01-A1", NP, 2, P),
                ("GR-LED-01-A2", PL, 1, P),
                ("GR-LED-01-A3", ST, 2, P),
                ("GR-LED-01-A4", AT, 3, P),
            ]),
            ("GR-INF-01", Area.INFRASTRUCTURE, [
                ("GR-INF-01-A1", NP, 3, IT),            # the network
                ("GR-INF-01-A2", NP, 2, IT),
                ("GR-INF-01-A3", PL, 1, IT),
                ("GR-INF-01-A4", ST, 1, IT),
                ("GR-INF-01-A5", AT, 1, IT),
            ], ["digitala_nationella_prov"]),
            ("GR-KOM-01", Area.COMPETENCE, [
                ("GR-KOM-01-A1", NP, 1, ICT),
                ("GR-KOM-01-A2", PL, 1, ICT),
                ("GR-KOM-01-A3", ST, 2, ICT, ["GR-INF-01-A4"]),
                ("GR-KOM-01-A4", AT, 2, ICT),
            ]),
            ("GR-ANV-01", Area.USE, [
                ("GR-ANV-01-A1", NP, 1, TT, ["GR-INF-01-A1"]),   # 1:1 roll-out needs the network
                ("GR-ANV-01-A2", PL, 1, TT, ["GR-ANV-01-A1"]),
                ("GR-ANV-01-A3", ST, 3, TT, ["GR-INF-01-A3"]),
                ("GR-ANV-01-A4", AT, 1, TT),
            ], ["digitala_nationella_prov"]),
        ]
    )


def test_only_indicators_below_achieved_with_activities_of_their_level(mini: Catalogue, make_assessment) -> None:
    a = make_assessment(mini, {"GR-LED-01": PL, "GR-INF-01": Rating.ACHIEVED, "GR-KOM-01": Rating.NOT_RELEVANT})
    plan = generate_action_plan(mini, a, START)
    assert _ids(plan) == ["GR-LED-01-A2"]  # GR-ANV-01 is unrated: no activities
    assert plan.items[0].current_rating is PL
    assert plan.items[0].indicator_title == "Titel GR-LED-01"


def test_priority_then_dependency_then_area(mini: Catalogue, make_assessment) -> None:
    a = make_assessment(mini, {"GR-LED-01": NP, "GR-INF-01": NP, "GR-KOM-01": NP, "GR-ANV-01": NP})
    plan = generate_action_plan(mini, a, START)
    # GR-INF-01-A1 (priority 3) is needed by GR-ANV-01-A1 (priority 1) and is lifted to plan priority 1
    assert _ids(plan) == ["GR-INF-01-A1", "GR-KOM-01-A1", "GR-ANV-01-A1", "GR-LED-01-A1", "GR-INF-01-A2"]
    by_id = {i.activity_id: i for i in plan.items}
    assert by_id["GR-INF-01-A1"].priority == 3 and by_id["GR-INF-01-A1"].plan_priority == 1
    assert by_id["GR-ANV-01-A1"].after == ("GR-INF-01-A1",)
    assert [i.position for i in plan.items] == [1, 2, 3, 4, 5]
    assert [i.plan_priority for i in plan.items] == [1, 1, 1, 2, 2]


def test_dependency_beats_area_order_within_a_priority(build_catalogue, make_assessment) -> None:
    cat = build_catalogue(
        [
            ("GR-LED-01", Area.LEADERSHIP, [("GR-LED-01-A1", NP, 1, P, ["GR-ANV-01-A1"])]),
            ("GR-INF-01", Area.INFRASTRUCTURE, [("GR-INF-01-A1", NP, 1, IT)]),
            ("GR-ANV-01", Area.USE, [("GR-ANV-01-A1", NP, 1, TT)]),
        ]
    )
    plan = generate_action_plan(cat, make_assessment(cat, {}, default=NP), START)
    # by area alone Ledning would come first, but it depends on the Användning activity
    assert _ids(plan) == ["GR-INF-01-A1", "GR-ANV-01-A1", "GR-LED-01-A1"]


def test_suggested_terms(mini: Catalogue, make_assessment) -> None:
    a = make_assessment(mini, {"GR-LED-01": NP, "GR-INF-01": NP, "GR-KOM-01": NP, "GR-ANV-01": NP})
    terms = {i.activity_id: str(i.suggested_term) for i in generate_action_plan(mini, a, "HT 2026/27").items}
    assert terms == {
        "GR-INF-01-A1": "HT 2026/27",  # plan priority 1
        "GR-KOM-01-A1": "HT 2026/27",
        "GR-ANV-01-A1": "VT 2026/27",  # priority 1, but one term after the network it needs
        "GR-LED-01-A1": "VT 2026/27",  # priority 2 -> next term
        "GR-INF-01-A2": "VT 2026/27",
    }


def test_priority_three_goes_two_terms_later(mini: Catalogue, make_assessment) -> None:
    a = make_assessment(mini, {"GR-LED-01": AT, "GR-INF-01": AT, "GR-ANV-01": ST})
    plan = generate_action_plan(mini, a, SchoolTerm.parse("VT 2026/27"))
    terms = {i.activity_id: str(i.suggested_term) for i in plan.items}
    assert terms["GR-INF-01-A5"] == "VT 2026/27"
    assert terms["GR-LED-01-A4"] == "VT 2027/28"  # priority 3
    assert terms["GR-ANV-01-A3"] == "VT 2027/28"  # priority 3; its prerequisite is done (indicator above PLANNED)


def test_prerequisites_done_outstanding_or_not_relevant(mini: Catalogue, make_assessment) -> None:
    # GR-KOM-01-A3 (from STARTED) requires GR-INF-01-A4 (from STARTED)
    def item(inf_rating):
        ratings = {"GR-KOM-01": ST} | ({} if inf_rating is None else {"GR-INF-01": inf_rating})
        plan = generate_action_plan(mini, make_assessment(mini, ratings), START)
        return next(i for i in plan.items if i.activity_id == "GR-KOM-01-A3")

    same = item(ST)
    assert same.after == ("GR-INF-01-A4",) and same.outstanding_prerequisites == ()
    assert str(same.suggested_term) == "VT 2026/27"
    done = item(AT)
    assert done.after == () and done.outstanding_prerequisites == ()
    lower = item(PL)
    assert lower.after == () and lower.outstanding_prerequisites == ("GR-INF-01-A4",)
    assert item(None).outstanding_prerequisites == ("GR-INF-01-A4",)
    assert item(Rating.NOT_RELEVANT).outstanding_prerequisites == ()


def test_transitive_promotion(build_catalogue, make_assessment) -> None:
    cat = build_catalogue(
        [
            ("GR-LED-01", Area.LEADERSHIP, [("GR-LED-01-A1", NP, 3, P)]),
            ("GR-INF-01", Area.INFRASTRUCTURE, [("GR-INF-01-A1", NP, 2, IT, ["GR-LED-01-A1"])]),
            ("GR-KOM-01", Area.COMPETENCE, [("GR-KOM-01-A1", NP, 3, ICT)]),
            ("GR-ANV-01", Area.USE, [("GR-ANV-01-A1", NP, 1, TT, ["GR-INF-01-A1"])]),
        ]
    )
    plan = generate_action_plan(cat, make_assessment(cat, {}, default=NP), START)
    assert _ids(plan) == ["GR-LED-01-A1", "GR-INF-01-A1", "GR-ANV-01-A1", "GR-KOM-01-A1"]
    assert [i.plan_priority for i in plan.items] == [1, 1, 1, 3]
    assert [str(i.suggested_term) for i in plan.items] == ["HT 2026/27", "VT 2026/27", "HT 2027/28", "HT 2027/28"]


def test_filters_by_tag_and_owner_keep_positions(mini: Catalogue, make_assessment) -> None:
    a = make_assessment(mini, {"GR-LED-01": NP, "GR-INF-01": NP, "GR-KOM-01": NP, "GR-ANV-01": NP})
    plan = generate_action_plan(mini, a, START)
    tagged = plan.filtered(tag="digitala_nationella_prov")
    assert _ids(tagged) == ["GR-INF-01-A1", "GR-ANV-01-A1", "GR-INF-01-A2"]
    assert [i.position for i in tagged.items] == [1, 3, 5]
    assert tagged.filters == {"tag": "digitala_nationella_prov"}
    it = plan.filtered(owner=OwnerRole.IT_DEPARTMENT)
    assert _ids(it) == ["GR-INF-01-A1", "GR-INF-01-A2"]
    both = plan.filtered(tag="digitala_nationella_prov", owner="teacher_team")
    assert _ids(both) == ["GR-ANV-01-A1"]
    assert _ids(plan.filtered(tag="annat")) == []
    assert len(plan.items) == 5  # the plan itself is unchanged


def test_deterministic(cat1: Catalogue, make_assessment) -> None:
    rng = random.Random(7)
    ids = list(cat1.indicator_ids("grundskola"))
    ratings = {i: rng.choice(list(Rating)) for i in ids}
    shuffled = dict(sorted(ratings.items(), key=lambda kv: rng.random()))
    a = make_assessment(cat1, ratings)
    b = make_assessment(cat1, shuffled, assessment_id="a-1")
    assert generate_action_plan(cat1, a, START) == generate_action_plan(cat1, b, START)
    assert generate_action_plan(cat1, a, START).model_dump() == generate_action_plan(cat1, a, START).model_dump()


@pytest.mark.parametrize("seed", range(25))
def test_real_catalogue_plan_invariants(cat1: Catalogue, cat2: Catalogue, make_assessment, seed: int) -> None:
    rng = random.Random(seed)
    catalogue = (cat1, cat2)[seed % 2]
    form = ("forskola", "grundskola", "gymnasieskola")[seed % 3]
    ratings = {i: rng.choice(list(Rating)) for i in catalogue.indicator_ids(form)}
    plan = generate_action_plan(catalogue, make_assessment(catalogue, ratings, school_form=form), START)
    expected = {
        a.id for ind in catalogue.indicators_for(form) for a in ind.activities if a.from_level is ratings[ind.id]
    }
    assert set(_ids(plan)) == expected
    position = {i.activity_id: i.position for i in plan.items}
    term = {i.activity_id: i.suggested_term.index for i in plan.items}
    previous = None
    for item in plan.items:
        for req in item.after:
            assert position[req] < item.position  # never before what it depends on
            assert term[req] < term[item.activity_id]
        for req in catalogue.activity(item.activity_id).requires:
            assert req in item.after or req not in position
        assert item.plan_priority <= item.priority
        assert term[item.activity_id] - START.index >= item.plan_priority - 1
        if previous is not None:
            assert previous.plan_priority <= item.plan_priority
        previous = item


def test_national_test_view_of_a_real_plan(cat1: Catalogue, make_assessment) -> None:
    a = make_assessment(cat1, {"GR-INF-01": ST, "GR-INF-02": ST, "GR-LED-01": PL}, default=Rating.ACHIEVED)
    plan = generate_action_plan(cat1, a, START)
    assert _ids(plan) == ["GR-LED-01-A2", "GR-LED-01-A3", "GR-INF-01-A3", "GR-INF-02-A3"]
    dnp = plan.filtered(tag="digitala_nationella_prov")
    assert _ids(dnp) == ["GR-INF-01-A3", "GR-INF-02-A3"]
    rollout = dnp.items[1]
    assert rollout.after == ("GR-INF-01-A3",)
    assert str(rollout.suggested_term) == "VT 2026/27"


def test_plan_refuses_another_catalogue_version(cat1: Catalogue, cat2: Catalogue, make_assessment) -> None:
    with pytest.raises(ValueError):
        generate_action_plan(cat2, make_assessment(cat1, {}, default=NP), START)
