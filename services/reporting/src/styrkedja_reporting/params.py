"""Query-parameter patterns of the read endpoints (ASCII digits only, as the contracts)."""

ORGANISER_PATTERN = "^([0-9]{4}|[0-9]{6}-[0-9]{4}|[0-9]{10})$"
SCHOOL_UNIT_PATTERN = "^[0-9]{8}$"
ID_PATTERN = "^[A-Za-z0-9._:/-]{1,80}$"
SUBJECT_PATTERN = "^[A-Z0-9]{3,16}$"
SCHOOL_YEAR_PATTERN = "^[0-9]{4}/[0-9]{2}$"
