"""A token minted without a user id gets a random one that can never read as a personnummer: the services
refuse such a `sub` with 401, so a test's random token must not draw one (a CI run once did)."""

from __future__ import annotations

from styrkedja_contracts.identifiers import contains_personal_identity_number
from styrkedja_devstack.issuer import dev_subject


def test_a_minted_user_id_holds_no_digit_and_is_random() -> None:
    drawn = {dev_subject() for _ in range(2_000)}
    assert len(drawn) == 2_000
    assert all(s.startswith("dev-") and len(s) == 16 and not any(c.isdigit() for c in s) for s in drawn)
    assert not any(contains_personal_identity_number(s) for s in drawn)
