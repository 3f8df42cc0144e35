"""The forecast service (prognoser): forecasts per student, subject and term inside reporting windows."""

from fastapi import FastAPI

from styrkedja_kit.app import app_on_first_access, create_service_app
from styrkedja_kit.request_examples import load_request_examples

from .calendar.routes import router as calendar_router
from .forecasts.routes import router as forecasts_router
from .persistence import metadata
from .settings import ForecastSettings


def create_app(settings: ForecastSettings) -> FastAPI:
    settings.window_config()  # a bad window setting stops the start, not the first request
    return create_service_app(settings, metadata, [forecasts_router, calendar_router],
                              title="Styrkedja forecast service", require_token=True,
                              request_examples=load_request_examples(__package__))


__getattr__ = app_on_first_access(create_app, ForecastSettings)  # `uvicorn styrkedja_forecast.main:app`
