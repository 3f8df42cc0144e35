"""Comparison of two self-assessments: over time, between raters, across catalogue versions."""

from __future__ import annotations

import pytest

from styrkedja_lika.domain import (
    AREA_ORDER,
    Area,
    CatalogueLibrary,
    NotComparable,
    Rating,
    RespondentRole,
    SchoolForm,
    compare_self_assessments,
)

NP, PL, ST, AT, A, NR = (
    Rating.NOT_PLANNED,
    Rating.PLANNED,
    Rating.STARTED,
    Rating.ALMOST_THERE,
    Rating.ACHIEVED,
    Rating.NOT_RELEVANT,
)


def test_between_raters_same_version(library: CatalogueLibrary, make_assessment) -> None:
    cat = library["2026.1"]
    rektor = make_assessment(
        cat,
        {"GR-LED-01": A, "GR-LED-02": ST, "GR-INF-01": NP, "GR-INF-02": PL, "GR-KOM-01": NR},
        default=ST,
        assessment_id="rektor",
    )
    ikt = make_assessment(
        cat,
        {"GR-LED-01": PL, "GR-LED-02": AT, "GR-INF-01": A, "GR-INF-02": ST, "GR-KOM-01": A},
        default=ST,
        assessment_id="ikt",
        respondent_role=RespondentRole.ICT_COORDINATOR,
    )
    cmp = compare_self_assessments(rektor, ikt, library)
    assert (cmp.first_assessment_id, cmp.second_assessment_id) == ("rektor", "ikt")
    assert cmp.only_in_first == () and cmp.only_in_second == () and cmp.left_out == ()
    assert len(cmp.indicators) == 28
    row = cmp.indicator("GR-LED-01")
    assert (row.first, row.second, row.change, row.steps_apart) == (A, PL, -3, 3)
    assert cmp.indicator("GR-LED-02").change == 1
    assert cmp.indicator("GR-INF-01").change == 4
    assert cmp.indicator("GR-KOM-01").change is None  # NOT_RELEVANT on one side
    assert cmp.indicator("GR-ANV-01").change == 0
    # points worth discussing: two steps or more, largest first
    assert [(r.indicator_id, r.steps_apart) for r in cmp.discussion_points] == [("GR-INF-01", 4), ("GR-LED-01", 3)]


def test_radar_series(library: CatalogueLibrary, make_assessment) -> None:
    cat = library["2026.1"]
    before = make_assessment(cat, {"GR-LED-01": NR, "GR-LED-02": A}, default=NP, assessment_id="ht")
    after = make_assessment(cat, {"GR-INF-01": A}, default=PL, assessment_id="vt")
    cmp = compare_self_assessments(before, after, library)
    radar = cmp.area_radar
    assert radar.axes == tuple(a.value for a in AREA_ORDER)
    assert radar.labels == ("Ledning", "Infrastruktur", "Kompetens", "Användning")
    assert radar.first == pytest.approx((4 / 6, 0.0, 0.0, 0.0))
    assert radar.second == pytest.approx((1.0, 10 / 7, 1.0, 1.0))
    led = cmp.indicator_radars[Area.LEADERSHIP]
    assert led.axes == tuple(f"GR-LED-0{n}" for n in range(1, 8))
    assert led.first[:2] == (None, 4.0)
    assert led.second[:2] == (1.0, 1.0)
    assert led.labels[0] == "Skolenhetens plan för digitalisering"


def test_across_catalogue_versions_uses_shared_indicators(library: CatalogueLibrary, make_assessment) -> None:
    old = make_assessment(library["2026.1"], {"GR-ANV-06": A}, default=PL, assessment_id="2026-vt")
    new = make_assessment(library["2026.2"], {"GR-ANV-08": NP, "GR-INF-01": AT}, default=PL, assessment_id="2026-ht")
    cmp = compare_self_assessments(old, new, library)
    assert (cmp.first_catalogue_version, cmp.second_catalogue_version) == ("2026.1", "2026.2")
    assert cmp.only_in_first == ("GR-ANV-06",)
    assert cmp.only_in_second == ("GR-ANV-08",)
    assert cmp.left_out == ("GR-ANV-06", "GR-ANV-08")
    ids = [r.indicator_id for r in cmp.indicators]
    assert len(ids) == 27 and "GR-ANV-06" not in ids and "GR-ANV-08" not in ids
    # titles come from the newer version
    assert cmp.indicator("GR-INF-01").title == "Nätverk och kapacitet"
    assert cmp.indicator("GR-INF-01").change == 2
    # Användning is compared on the six shared indicators only (the ACHIEVED GR-ANV-06 is left out)
    use = AREA_ORDER.index(Area.USE)
    assert cmp.area_radar.first[use] == pytest.approx(1.0)
    assert cmp.area_radar.second[use] == pytest.approx(1.0)
    assert len(cmp.indicator_radars[Area.USE].axes) == 6
    # and the other way round
    back = compare_self_assessments(new, old, library)
    assert back.only_in_first == ("GR-ANV-08",) and back.only_in_second == ("GR-ANV-06",)
    assert back.indicator("GR-INF-01").change == -2


def test_discussion_threshold_and_missing_ratings(library: CatalogueLibrary, make_assessment) -> None:
    cat = library["2026.1"]
    a = make_assessment(cat, {"GR-LED-01": NP, "GR-LED-02": NP}, status="DRAFT")
    b = make_assessment(cat, {"GR-LED-01": PL, "GR-LED-02": ST}, assessment_id="b")
    cmp = compare_self_assessments(a, b, library)
    assert [r.indicator_id for r in cmp.discussion_points] == ["GR-LED-02"]
    assert cmp.indicator("GR-LED-03").first is None and cmp.indicator("GR-LED-03").change is None
    loose = compare_self_assessments(a, b, library, discussion_threshold=1)
    assert [r.indicator_id for r in loose.discussion_points] == ["GR-LED-02", "GR-LED-01"]


def test_comments_are_carried(library: CatalogueLibrary, make_assessment) -> None:
    cat = library["2026.1"]
    a = make_assessment(cat, {"GR-LED-01": {"rating": "NOT_PLANNED", "comment": "Ingen plan ännu."}})
    b = make_assessment(cat, {"GR-LED-01": {"rating": "ACHIEVED", "comment": "Planen är klar."}}, assessment_id="b")
    row = compare_self_assessments(a, b, library).indicator("GR-LED-01")
    assert (row.first_comment, row.second_comment) == ("Ingen plan ännu.", "Planen är klar.")


def test_not_comparable(library: CatalogueLibrary, make_assessment) -> None:
    cat = library["2026.1"]
    gr = make_assessment(cat, {}, default=ST)
    fo = make_assessment(cat, {}, default=ST, school_form=SchoolForm.PRESCHOOL, assessment_id="fo")
    with pytest.raises(NotComparable):
        compare_self_assessments(gr, fo, library)
    with pytest.raises(NotComparable, match="2026.2"):
        compare_self_assessments(gr, make_assessment(library["2026.2"], {}, default=ST), {"2026.1": cat})
