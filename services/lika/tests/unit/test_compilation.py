"""Compilation of an organiser's latest published self-assessments and the to-do view."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from styrkedja_lika.domain import (
    AREA_ORDER,
    Area,
    AssessmentStatus,
    CatalogueLibrary,
    Rating,
    SchoolForm,
    compile_organiser,
    latest_published,
)

NP, PL, ST, AT, A, NR = (
    Rating.NOT_PLANNED,
    Rating.PLANNED,
    Rating.STARTED,
    Rating.ALMOST_THERE,
    Rating.ACHIEVED,
    Rating.NOT_RELEVANT,
)


def _at(day: int) -> datetime:
    return datetime(2026, 3, day, 12, 0, tzinfo=UTC)


@pytest.fixture
def assessments(library: CatalogueLibrary, make_assessment):
    c1, c2 = library["2026.1"], library["2026.2"]
    return [
        # unit 1: an older published one, the latest published one, and a newer draft and private one
        make_assessment(c1, {}, default=NP, school_unit_code="10000001", assessment_id="u1-old", published_at=_at(1)),
        make_assessment(
            c1,
            # GR-LED-07 PLANNED -> GR-LED-07-A2 (priority 1); GR-LED-03 PLANNED -> only priority 2
            # GR-LED-01 PLANNED -> A3 priority 1 and its prerequisite A2 (priority 2, lifted to 1)
            {"GR-LED-07": PL, "GR-LED-03": PL, "GR-LED-01": PL, "GR-KOM-01": NR, "GR-ANV-06": PL},
            default=A,
            school_unit_code="10000001",
            assessment_id="u1-new",
            published_at=_at(10),
        ),
        make_assessment(c1, {}, default=A, school_unit_code="10000001", assessment_id="u1-draft",
                        status=AssessmentStatus.DRAFT),
        make_assessment(c1, {}, default=A, school_unit_code="10000001", assessment_id="u1-private",
                        status=AssessmentStatus.PRIVATE),
        # unit 2: on the newer catalogue
        make_assessment(
            c2,
            {"GR-LED-07": PL, "GR-INF-04": PL, "GR-ANV-08": PL},
            default=ST,
            school_unit_code="10000002",
            assessment_id="u2",
            published_at=_at(5),
        ),
        # unit 3
        make_assessment(
            c1, {"GR-LED-07": PL, "GR-INF-04": PL}, default=AT, school_unit_code="10000003", assessment_id="u3",
            published_at=_at(6),
        ),
        # a preschool of the same organiser
        make_assessment(
            c2, {"FO-LED-04": PL}, default=ST, school_form=SchoolForm.PRESCHOOL, school_unit_code="20000001",
            assessment_id="fo1", published_at=_at(7),
        ),
        # another organiser's unit is never compiled
        make_assessment(c1, {}, default=PL, organiser_id="0180", school_unit_code="90000001", assessment_id="other",
                        published_at=_at(8)),
    ]


def test_latest_published_per_unit(assessments) -> None:
    latest = latest_published(assessments, "2999")
    assert {k: v.assessment_id for k, v in latest.items()} == {
        ("10000001", SchoolForm.COMPULSORY_SCHOOL): "u1-new",
        ("10000002", SchoolForm.COMPULSORY_SCHOOL): "u2",
        ("10000003", SchoolForm.COMPULSORY_SCHOOL): "u3",
        ("20000001", SchoolForm.PRESCHOOL): "fo1",
    }


def test_latest_is_independent_of_input_order(assessments) -> None:
    forward = latest_published(assessments, "2999")
    backward = latest_published(list(reversed(assessments)), "2999")
    assert forward == backward


def test_matrix_and_means(assessments, library: CatalogueLibrary) -> None:
    comp = compile_organiser("2999", assessments, library)
    assert comp.organiser_id == "2999"
    assert [f.school_form for f in comp.forms] == [SchoolForm.PRESCHOOL, SchoolForm.COMPULSORY_SCHOOL]
    gr = comp.form("grundskola")
    assert [u.school_unit_code for u in gr.units] == ["10000001", "10000002", "10000003"]
    assert gr.catalogue_version == "2026.2"
    # columns: the newest version's indicators, then those only an older version in use has
    assert len(gr.indicator_ids) == 29
    assert gr.indicator_ids[-1] == "GR-ANV-06" and "GR-ANV-08" in gr.indicator_ids
    assert gr.cell("10000001", "GR-LED-07") is PL
    assert gr.cell("10000001", "GR-KOM-01") is NR
    assert gr.cell("10000001", "GR-ANV-08") is None  # not in unit 1's version
    assert gr.cell("10000002", "GR-ANV-06") is None
    assert gr.cell("10000002", "GR-ANV-08") is PL
    matrix = gr.matrix()
    assert len(matrix) == 3 and all(len(row) == 29 for row in matrix)
    assert matrix[1][gr.indicator_ids.index("GR-INF-04")] is PL

    u1 = gr.unit("10000001")
    # Ledning of u1: 4 + 1 + 4 + 1 + 4 + 4 + 4... = LED-01 PL, LED-03 PL, LED-07 PL, others ACHIEVED
    assert u1.area_means[Area.LEADERSHIP] == pytest.approx((4 * 4 + 1 * 3) / 7)
    assert u1.area_means[Area.COMPETENCE] == pytest.approx(4.0)  # NOT_RELEVANT left out
    assert u1.area_means[Area.USE] == pytest.approx((6 * 4 + 1) / 7)
    u2 = gr.unit("10000002")
    assert u2.area_means[Area.INFRASTRUCTURE] == pytest.approx((6 * 2 + 1) / 7)
    # across units: the mean of the unit means
    for area in AREA_ORDER:
        expected = sum(u.area_means[area] for u in gr.units) / 3
        assert gr.area_means[area] == pytest.approx(expected)
    assert gr.overall_mean == pytest.approx(sum(u.overall_mean for u in gr.units) / 3)


def test_todo_view(assessments, library: CatalogueLibrary) -> None:
    gr = compile_organiser("2999", assessments, library).form(SchoolForm.COMPULSORY_SCHOOL)
    todo = [(t.indicator_id, t.school_unit_codes) for t in gr.todo]
    assert todo == [
        ("GR-LED-07", ("10000001", "10000002", "10000003")),
        ("GR-INF-04", ("10000002", "10000003")),
        ("GR-LED-01", ("10000001",)),
    ]
    # GR-LED-03, GR-ANV-06 and GR-ANV-08 are PLANNED but have no priority-1 activity
    first = gr.todo[0]
    assert first.unit_count == 3 and first.activity_ids == ("GR-LED-07-A2",)
    assert first.title == "Planering för digitala nationella prov" and first.area is Area.LEADERSHIP
    # the prerequisite lifted to priority 1 is listed with the activity that needs it
    assert gr.todo[2].activity_ids == ("GR-LED-01-A2", "GR-LED-01-A3")


def test_preschool_section(assessments, library: CatalogueLibrary) -> None:
    fo = compile_organiser("2999", assessments, library).form(SchoolForm.PRESCHOOL)
    assert [u.school_unit_code for u in fo.units] == ["20000001"]
    assert len(fo.indicator_ids) == 24
    assert [(t.indicator_id, t.unit_count) for t in fo.todo] == [("FO-LED-04", 1)]
    with pytest.raises(KeyError):
        compile_organiser("2999", assessments, library).form(SchoolForm.UPPER_SECONDARY_SCHOOL)


def test_empty_organiser(assessments, library: CatalogueLibrary) -> None:
    assert compile_organiser("1234", assessments, library).forms == ()
