"""Styrkedja lika service."""
