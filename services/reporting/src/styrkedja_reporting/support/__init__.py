"""Stödinsatser and planeringar up the chain: counts of support interventions per level, kind,
subject, status and evaluation outcome (materialised by deltas per batch), students below the
pass level without support, long-open investigations, results of supported students round by
round, and plan coverage of the directory's teaching assignments."""
