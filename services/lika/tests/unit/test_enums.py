"""The domain enums carry the same values as the event contracts, so no mapping is needed."""

from __future__ import annotations

import pytest

from styrkedja_contracts.events import lika as contract
from styrkedja_lika.domain import AREA_ORDER, Area, Rating, RespondentRole, SchoolForm


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (SchoolForm, contract.SchoolForm),
        (RespondentRole, contract.RespondentRole),
        (Area, contract.LikaArea),
        (Rating, contract.LikaRatingValue),
    ],
)
def test_values_match_the_event_contract(ours, theirs) -> None:
    assert [m.value for m in ours] == [m.value for m in theirs]


def test_codes_and_order() -> None:
    assert [f.code for f in SchoolForm] == ["FO", "GR", "GY"]
    assert [a.code for a in AREA_ORDER] == ["LED", "INF", "KOM", "ANV"]
    assert [a.order for a in AREA_ORDER] == [0, 1, 2, 3]
    assert SchoolForm("grundskola") is SchoolForm.COMPULSORY_SCHOOL
    assert RespondentRole("rektor") is RespondentRole.PRINCIPAL
