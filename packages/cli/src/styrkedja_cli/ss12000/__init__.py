"""SS 12000:2020 (API v2) import: organisations, groups with memberships, duties, activities →
the reporting service's directory. Persons are never read: only a person's UUID becomes a
pseudonymous id, and civic numbers (civicNo) are dropped with every other unknown field."""
