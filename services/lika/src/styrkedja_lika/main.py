"""The LIKA service: self-assessments of the digital maturity of schools. Only wiring here."""

from fastapi import FastAPI

from styrkedja_kit.app import app_on_first_access, create_service_app
from styrkedja_kit.request_examples import load_request_examples

from .action_plans.routes import router as action_plans
from .catalogue.routes import router as catalogue
from .comparison.routes import router as comparison
from .exports.routes import router as exports
from .persistence import metadata
from .self_assessments.routes import router as self_assessments
from .settings import LikaSettings


def create_app(settings: LikaSettings) -> FastAPI:
    # comparison before self_assessments: `/v1/self-assessments/compare` must not be read as an id
    return create_service_app(settings, metadata,
                              [catalogue, comparison, self_assessments, action_plans, exports],
                              title="Styrkedja LIKA service", require_token=True,
                              request_examples=load_request_examples(__package__))


__getattr__ = app_on_first_access(create_app, LikaSettings)  # `uvicorn styrkedja_lika.main:app`
