"""Styrkedja embedded dev stack: embedded PostgreSQL + Tansu broker + the four services, one command."""
