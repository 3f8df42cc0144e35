"""LIKA pages: the organiser's compilation, a unit's self-assessments, the radar, the action plan."""
