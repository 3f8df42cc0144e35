"""The reporting service: materialised aggregates for every level of the governance chain."""

from fastapi import FastAPI

from styrkedja_kit.app import create_service_app

from .api import router
from .consumers import consumer_spec
from .persistence import metadata
from .settings import ReportingSettings


def create_app(settings: ReportingSettings) -> FastAPI:
    return create_service_app(settings, metadata, [router], title="Styrkedja reporting service",
                              uses_outbox=False, consumer=consumer_spec(settings))


app = create_app(ReportingSettings())
