"""Prognoser: forecasts per student, subject and term, judged late or on time against the
organiser's reporting window (revisions, withdrawal)."""
