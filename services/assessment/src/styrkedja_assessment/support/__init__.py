"""Stödinsatser: support interventions for pseudonymous students (types, statuses, dates,
evaluation outcome, who decided), with their free-text description kept only here."""
