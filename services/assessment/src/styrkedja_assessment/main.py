"""The assessment service (bedömningar): system of record for published assessments."""

from fastapi import FastAPI

from styrkedja_kit.app import create_service_app

from .api import router
from .metadata import metadata
from .plans.routes import router as plans_router
from .settings import AssessmentSettings
from .support.routes import router as support_router


def create_app(settings: AssessmentSettings) -> FastAPI:
    return create_service_app(settings, metadata, [router, support_router, plans_router],
                              title="Styrkedja assessment service", require_token=True)


def __getattr__(name: str) -> FastAPI:
    """`uvicorn <package>.main:app` builds the app on first access, from the environment (which
    must name the token issuer, `STYRKEDJA_AUTH_ISSUER`): importing this module needs neither."""
    if name == "app":
        return create_app(AssessmentSettings())
    raise AttributeError(name)
