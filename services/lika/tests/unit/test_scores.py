"""Scores per area and overall; NOT_RELEVANT is left out."""

from __future__ import annotations

import pytest

from styrkedja_lika.domain import (
    AREA_ORDER,
    Area,
    Catalogue,
    Rating,
    SchoolForm,
    mean_level,
    score_ratings,
    score_self_assessment,
    to_percent,
)


def test_mean_level_leaves_out_not_relevant_and_unrated() -> None:
    assert mean_level([Rating.ACHIEVED, Rating.NOT_RELEVANT, None, Rating.PLANNED]) == pytest.approx(2.5)
    assert mean_level([Rating.NOT_RELEVANT, None]) is None
    assert to_percent(3.0) == pytest.approx(75.0)
    assert to_percent(None) is None


def test_scores_per_area_and_overall(cat1: Catalogue, make_assessment) -> None:
    ratings = dict.fromkeys(cat1.indicator_ids("grundskola"), Rating.NOT_PLANNED)
    ratings.update(
        {
            # Ledning: 4, 4, 0, 0, 0, 0, NOT_RELEVANT -> 8 / 6
            "GR-LED-01": Rating.ACHIEVED,
            "GR-LED-02": Rating.ACHIEVED,
            "GR-LED-07": Rating.NOT_RELEVANT,
            # Infrastruktur: all ALMOST_THERE -> 3.0
            **{f"GR-INF-0{n}": Rating.ALMOST_THERE for n in range(1, 8)},
            # Kompetens: all NOT_RELEVANT -> no score
            **{f"GR-KOM-0{n}": Rating.NOT_RELEVANT for n in range(1, 8)},
            # Användning: 1, 2, 0, 0, 0, 0, 0 -> 3 / 7
            "GR-ANV-01": Rating.PLANNED,
            "GR-ANV-02": Rating.STARTED,
        }
    )
    card = score_self_assessment(cat1, make_assessment(cat1, ratings))
    led = card.areas[Area.LEADERSHIP]
    assert led.mean_level == pytest.approx(8 / 6)
    assert led.percent == pytest.approx(8 / 6 / 4 * 100)
    assert (led.indicators, led.scored, led.not_relevant, led.unrated) == (7, 6, 1, 0)
    assert card.areas[Area.INFRASTRUCTURE].mean_level == pytest.approx(3.0)
    assert card.areas[Area.INFRASTRUCTURE].percent == pytest.approx(75.0)
    kom = card.areas[Area.COMPETENCE]
    assert kom.mean_level is None and kom.percent is None and kom.not_relevant == 7
    assert card.areas[Area.USE].mean_level == pytest.approx(3 / 7)
    # overall: every scored indicator weighs the same (not the mean of the area means)
    assert card.overall.mean_level == pytest.approx((8 + 21 + 3) / 20)
    assert card.overall.scored == 20 and card.overall.not_relevant == 8
    assert card.series() == tuple(card.areas[a].mean_level for a in AREA_ORDER)


def test_not_relevant_does_not_lower_the_score(cat1: Catalogue, make_assessment) -> None:
    base = make_assessment(cat1, {}, default=Rating.ACHIEVED)
    with_nr = make_assessment(cat1, {"GR-LED-03": Rating.NOT_RELEVANT}, default=Rating.ACHIEVED)
    assert score_self_assessment(cat1, base).overall.percent == pytest.approx(100.0)
    assert score_self_assessment(cat1, with_nr).overall.percent == pytest.approx(100.0)
    assert score_self_assessment(cat1, with_nr).areas[Area.LEADERSHIP].scored == 6


def test_unrated_indicators_of_a_draft_are_counted_separately(cat1: Catalogue) -> None:
    card = score_ratings(cat1, SchoolForm.PRESCHOOL, {"FO-LED-01": Rating.STARTED})
    assert card.areas[Area.LEADERSHIP].mean_level == pytest.approx(2.0)
    assert card.areas[Area.LEADERSHIP].unrated == 5
    assert card.areas[Area.USE].mean_level is None
    assert card.overall.unrated == 23


def test_score_refuses_another_catalogue_version(cat1: Catalogue, cat2: Catalogue, make_assessment) -> None:
    with pytest.raises(ValueError, match="2026.1"):
        score_self_assessment(cat2, make_assessment(cat1, {}, default=Rating.STARTED))
