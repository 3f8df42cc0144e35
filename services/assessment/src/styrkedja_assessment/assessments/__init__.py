"""Bedömningar: published assessments, written reports and term grades (revisions, retraction),
the service's system of record."""
