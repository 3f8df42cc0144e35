"""A token of several roles is suppressed as its widest-reaching suppressed role (hostile round 24a).

Found and fixed: a token's suppressed levels were the intersection of its roles' (`suppressed_levels`: "its most
open role's view, it may read that anyway"). A politician who is also a teacher (or a principal, an ICT
coordinator, an area manager) of the organiser got the levels of the narrow role: area and above suppressed, the
school units and groups exact. But that role reads its own units or groups only, while the politician's reach is
the whole organiser, and the one disclosure decision for "school units seen exactly" protects no area by a
complement where its school units add up to it (nothing the reader does not see could hide it): the small area was
withheld alone, and the organiser's total less the other areas gave it back. Now the levels a narrow role sees
exactly count only where no role of the token reads wider: such a token is suppressed as its politician (or public)
role is; the organiser admin's exact view stays exact whatever else the token holds.

The data is `test_one_decision`'s: three areas of 5, 20 and 30 students, the organiser's 55 shown."""

from __future__ import annotations

import pytest

from .test_one_decision import AREAS, ORG, _figure, _views, fed  # noqa: F401  (fed: the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


def _token(token_issuer, *roles: str) -> dict:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=list(roles), organisers=[ORG])}


@pytest.mark.parametrize("other", ["teacher", "principal", "ict_coordinator", "area_manager"])
async def test_a_politician_of_another_role_too_cannot_work_out_a_small_area(fed, bare_client, token_issuer,  # noqa: F811
                                                                              other):
    headers = _token(token_issuer, "politician", other)
    organiser = await _figure(bare_client, headers, "coverage", "with_result", level="organiser")
    views = await _views(bare_client, headers)
    for name, view in views.items():
        assert view["north"] is None, name
        shown = {area: n for area, n in view.items() if n is not None}
        if organiser.get(ORG) is not None:  # the organiser's total less the areas shown must leave two unknown
            assert len(shown) <= len(AREAS) - 2, f"{name}: {shown} and the organiser's {organiser[ORG]} give north away"


async def test_an_organiser_admin_of_another_role_too_sees_every_area_exactly(fed, bare_client, token_issuer):  # noqa: F811
    views = await _views(bare_client, _token(token_issuer, "organiser_admin", "politician", "teacher"))
    for name, view in views.items():
        assert view == {"north": 5, "south": 20, "east": 30}, name
