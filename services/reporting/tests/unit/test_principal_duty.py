"""Which SS 12000 duty roles make their person a school unit's principal (`access.scope.is_principal_duty`)."""

from __future__ import annotations

import unicodedata

import pytest

from styrkedja_reporting.access.scope import is_principal_duty


@pytest.mark.parametrize("role", ["Rektor", " REKTOR ", "Biträdande rektor", "biträdande REKTOR",
                                  unicodedata.normalize("NFD", "Biträdande rektor"), "principal"])
def test_a_principals_role_however_it_was_typed(role):
    """Failed on the old code for the decomposed "ä" (a duty stored before names were normalised, or typed so)."""
    assert is_principal_duty(role)


@pytest.mark.parametrize("role", [None, "", "Lärare", "Bitradande rektor", "rektorsassistent"])
def test_other_roles_are_not(role):
    assert not is_principal_duty(role)
