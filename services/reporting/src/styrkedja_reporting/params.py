"""Query-parameter patterns of the read endpoints that are reporting's own. Codes (organiser,
school unit, subject, school year) use the kit's parameter types (`styrkedja_kit.inputs`), which
name the broken rule (ascii_only, no_control_characters, no_personal_identity_number, ...)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints, TypeAdapter, ValidationError

from styrkedja_contracts.identifiers import OrganiserId, check_text, is_organisation_number
from styrkedja_kit.rules import RuleViolation

from .results.rules import NATION as NATION_ID

# a unit id of any level: an area or organiser id, a school unit code, `<school_unit_code>/<group_id>`
ID_PATTERN = "^[A-Za-z0-9._:/-]{1,80}$"

UnitIdParam = Annotated[str, StringConstraints(pattern=ID_PATTERN), AfterValidator(check_text)]
"""A unit id of any level (query or path): the id pattern and the text rules every id obeys — the pattern alone
let a personal identity number through (`19121212-1212`), to be repeated in an answer or kept in the audit trail."""

_ORGANISER = TypeAdapter(OrganiserId)
ORGANISER_UNIT_RULE = "organiser_unit_id"
#: a group's one unit read without its school unit code (group ids are scoped by school unit)
GROUP_CODE_RULE = "school_unit_code_for_group"
#: the rule of a read at nation level that names another unit than the nation's own (`NATION_ID`)
NATION_UNIT_RULE = "nation_unit_id"
#: a unit id whose shape is no unit of the level read: a school unit is its 8-digit code, a group
#: `<school_unit_code>/<group_id>`, an area no group (round 35's leftover: support answered such ids 200, empty rows
#: under the label asked for)
UNIT_SHAPE_RULE = "unit_id_of_level"
_SCHOOL_UNIT_CODE = re.compile(r"[0-9]{8}")
#: a group as the results, figures, the directory's tree and a teacher's token name it: `<school unit code>/<group id>`
#: (a group id holds no `/`: `SOURCE_ID_PATTERN`)
GROUP_UNIT = re.compile(r"[0-9]{8}/[^/]+")
#: the rules across a read's parameters, which no parameter's schema can say (OpenAPI has no dependencies between
#: parameters): in the document's description, each by the name its 422 gives (round 31: schema-valid reads refused)
READ_RULES = ("A read's parameters depend on one another, each broken a 422 naming the field and the rule: at level "
              "`organiser` a `unit_id` is an organiser id (`organiser_unit_id`), at level `nation` the nation's own "
              f"`{NATION_ID}` or none (`{NATION_UNIT_RULE}`); every level but `nation` names the "
              "organiser (`organiser_id`, `required_below_nation`); a unit of the results', figures' and support's "
              f"reads has its level's shape (`{UNIT_SHAPE_RULE}`: a school unit its 8-digit code, a group "
              "`<school_unit_code>/<group_id>`, an area no `/`); a school year and a term asked for plan "
              "coverage come together (`school_year_with_term`); a group, read as one unit, is named with its school unit "
              f"code (`{GROUP_CODE_RULE}`).")


def unit_at_level(level: str | None, unit_id: str | None, field: str = "unit_id") -> str | None:
    """The unit a read names at `level`: at organiser level it is an organiser id, so it obeys the organiser id's
    rules and is compared in its kept spelling (`unit_id=2120001234` is the organiser `212000-1234`, as
    `organiser_id=2120001234` is); a unit of another level as it is. Without a level (a filter of any level, as
    the alerts'), a unit id spelling an organisation number is that organiser's too, compared in the kept spelling:
    the organiser's own unit is kept so (`directory.rules.organiser_spelt`), and no school unit code (8 digits) or
    group id (`<code>/<id>`) has that shape. A broken rule is a 422 naming `field`."""
    if level == "nation" and unit_id not in (None, NATION_ID):
        # the nation is one unit: a support table, a drill-down or an export at nation level named the unit asked for
        # as the nation's — `unit_id=43330004` gave the public the nation's figures under another organiser's school
        # unit code (the file named after it too); a reader, or a report made of the file, takes them for the unit's
        # (round 35). The results' reads, which filter by it, answered no rows
        raise RuleViolation(field, NATION_UNIT_RULE, f"at nation level the unit is the nation: {NATION_ID} or none")
    if unit_id is None or level not in ("organiser", None):
        return unit_id
    # a municipality code (four digits) is the same in every spelling: only an organisation number is read here
    if level is None and not is_organisation_number(unit_id):
        return unit_id
    try:
        return _ORGANISER.validate_python(unit_id)
    except ValidationError as error:
        first = error.errors()[0]
        # the pattern's own name (`string_pattern_mismatch`) for a value the parameter's documented pattern takes:
        # a rule of its own, which the document names (`READ_RULES`, round 31); the text rules keep theirs
        rule = ORGANISER_UNIT_RULE if first["type"] == "string_pattern_mismatch" else first["type"]
        raise RuleViolation(field, rule, f"at organiser level a unit is an organiser id: {first['msg']}") from None


def unit_of_level(level: str | None, unit_id: str | None, field: str = "unit_id") -> str | None:
    """`unit_at_level`, and the unit's shape checked against the level, for the reads that name a group as
    `<school_unit_code>/<group_id>` (results, figures, support). A unit of another level's shape is no unit of this
    one: answered 200 with no rows (or zeros) under the label asked for, it read as that unit's figures. A 422 naming
    `field` and `unit_id_of_level`."""
    unit = unit_at_level(level, unit_id, field)
    if unit is None:
        return unit
    if level == "school_unit" and not _SCHOOL_UNIT_CODE.fullmatch(unit):
        raise RuleViolation(field, UNIT_SHAPE_RULE, "at school unit level a unit is its school unit code (8 digits)")
    if level == "group" and not GROUP_UNIT.fullmatch(unit):
        raise RuleViolation(field, UNIT_SHAPE_RULE, "a group is named <school_unit_code>/<group_id>")
    if level == "area" and "/" in unit:
        raise RuleViolation(field, UNIT_SHAPE_RULE, "at area level a unit is an area id, not a group")
    return unit
