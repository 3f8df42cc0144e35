"""Comparison of two self-assessments of the same school form (radar-chart data)."""
