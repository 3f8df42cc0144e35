"""Styrkedja reporting service."""
