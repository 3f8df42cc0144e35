"""A unit id that is an organiser id: at organiser level in a read (`params.unit_at_level`), and a directory
unit or parent that spells the event's own organiser (`directory.rules.organiser_spelt`)."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from styrkedja_kit.rules import RuleViolation
from styrkedja_reporting.directory.rules import key_in_kept_spelling, organiser_spelt
from styrkedja_reporting.params import UnitIdParam, unit_at_level, unit_of_level

SPELLINGS = ("2120000142", "212000-0142", "162120000142", "16212000-0142")


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_at_organiser_level_a_unit_is_the_organiser_in_its_kept_spelling(spelling: str) -> None:
    assert unit_at_level("organiser", spelling) == "212000-0142"
    assert unit_at_level("school_unit", spelling) == spelling  # another level's id is as it is
    assert unit_at_level("organiser", "2999") == "2999" and unit_at_level("organiser", None) is None
    # without a level (a filter of any level, the alerts'): a spelling of an organisation number is the organiser
    assert unit_at_level(None, spelling) == "212000-0142"
    for other in ("11111111", "11111111/7A", "area-north", "2999", "21200001420"):
        assert unit_at_level(None, other) == other


@pytest.mark.parametrize(("value", "rule"), [("161212121212", "no_personal_identity_number"),
                                             ("16121212-1212", "no_personal_identity_number"),
                                             # a rule of its own, which the document names (round 31)
                                             ("2024-01-02", "organiser_unit_id"),
                                             ("area-north", "organiser_unit_id")])
def test_at_organiser_level_a_unit_breaking_the_organiser_rules_is_a_422_naming_it(value: str, rule: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        unit_at_level("organiser", value)
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("unit_id", rule, 422)
    assert value not in refused.value.message
    if rule == "no_personal_identity_number":  # spelt as an organisation number, so refused without a level too
        with pytest.raises(RuleViolation):
            unit_at_level(None, value)


@pytest.mark.parametrize("value", ["19121212-1212", "121212+1212", "x_121212_1212", "a" * 81, "7A\n", "７A"])
def test_a_unit_id_parameter_obeys_the_text_rules(value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(UnitIdParam).validate_python(value)
    for fine in ("11111111", "11111111/7A", "area:north", "212000-0142", "2120000142"):
        assert TypeAdapter(UnitIdParam).validate_python(fine) == fine


def test_a_directory_id_spelling_its_organiser_is_kept_as_the_organiser() -> None:
    for spelling in SPELLINGS:
        assert organiser_spelt(spelling, "212000-0142") == "212000-0142"
    assert organiser_spelt("2120000159", "212000-0142") == "2120000159"  # another organiser's number: as written
    assert organiser_spelt("north", "212000-0142") == "north" and organiser_spelt(None, "212000-0142") is None
    assert organiser_spelt("2999", "2999") == "2999"


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_key_a_removal_names_holds_the_organiser_s_own_unit_in_its_kept_spelling(spelling: str) -> None:
    assert key_in_kept_spelling("212000-0142", f"unit:organiser::{spelling}") == "unit:organiser::212000-0142"
    # another organiser's id, an area, a key of another kind, a key of no unit shape: as named
    assert key_in_kept_spelling("212000-0143", f"unit:organiser::{spelling}") == f"unit:organiser::{spelling}"
    for key in ("unit:area::norr", f"membership:{spelling}", f"unit:{spelling}", "duty:a:b:c"):
        assert key_in_kept_spelling("212000-0142", key) == key


@pytest.mark.parametrize(("level", "unit"), [("school_unit", "41110001/7A"), ("school_unit", "north"),
                                             ("school_unit", "4111000"), ("group", "41110001"), ("group", "7A"),
                                             ("group", "41110001/7A/x"), ("group", "4111/7A"), ("area", "41110001/7A")])
def test_a_unit_of_another_levels_shape_is_a_422_naming_unit_id(level: str, unit: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        unit_of_level(level, unit)
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("unit_id", "unit_id_of_level", 422)
    assert unit not in refused.value.message


def test_a_unit_of_its_levels_shape_is_read_as_unit_at_level_reads_it() -> None:
    for level, unit in (("school_unit", "41110001"), ("group", "41110001/7A"), ("area", "north"),
                        ("area", "41110001"), ("student", "elev-1"), (None, "41110001/7A")):
        assert unit_of_level(level, unit) == unit
    assert unit_of_level("organiser", "2120000142") == "212000-0142"
    assert unit_of_level("group", None) is None
