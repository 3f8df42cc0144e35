"""Styrkedja forecast service."""
