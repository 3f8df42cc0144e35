"""Styrkedja assessment service."""
