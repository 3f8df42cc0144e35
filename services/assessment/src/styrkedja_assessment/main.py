"""The assessment service (bedömningar): system of record for published assessments."""

from fastapi import FastAPI

from styrkedja_kit.app import app_on_first_access, create_service_app
from styrkedja_kit.request_examples import load_request_examples

from .assessments.routes import router as assessments_router
from .persistence import metadata
from .plans.routes import router as plans_router
from .settings import AssessmentSettings
from .support.routes import router as support_router


def create_app(settings: AssessmentSettings) -> FastAPI:
    return create_service_app(settings, metadata, [assessments_router, support_router, plans_router],
                              title="Styrkedja assessment service", require_token=True,
                              request_examples=load_request_examples(__package__))


__getattr__ = app_on_first_access(create_app, AssessmentSettings)  # `uvicorn styrkedja_assessment.main:app`
