"""Årshjul: the organiser's reporting calendar, owned by the forecast service and shared by event."""
