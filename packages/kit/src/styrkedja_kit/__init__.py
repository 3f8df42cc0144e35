"""Styrkedja runtime kit: settings, database, outbox relay, consumer loop, health, metrics, logging."""

from .workers_metrics import prepare as _prepare_workers_metrics

# first, before anything imports prometheus_client: a uvicorn worker's metrics go where its siblings' go
_prepare_workers_metrics()
