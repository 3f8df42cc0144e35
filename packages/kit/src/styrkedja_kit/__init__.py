"""Styrkedja runtime kit: settings, database, outbox relay, consumer loop, health, metrics, logging."""
