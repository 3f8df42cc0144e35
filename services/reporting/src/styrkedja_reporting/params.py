"""Query-parameter patterns of the read endpoints that are reporting's own. Codes (organiser,
school unit, subject, school year) use the kit's parameter types (`styrkedja_kit.inputs`), which
name the broken rule (ascii_only, no_control_characters, no_personal_identity_number, ...)."""

# a unit id of any level: an area or organiser id, a school unit code, `<school_unit_code>/<group_id>`
ID_PATTERN = "^[A-Za-z0-9._:/-]{1,80}$"
