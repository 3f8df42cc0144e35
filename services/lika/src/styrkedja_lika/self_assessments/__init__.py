"""Self-assessments (självskattningar): drafts, saves, publish, keep private, list over time."""
