"""The LIKA service: self-assessments of the digital maturity of schools."""

from fastapi import FastAPI

from styrkedja_kit.app import create_service_app

from .api import router
from .persistence import metadata
from .settings import LikaSettings


def create_app(settings: LikaSettings) -> FastAPI:
    return create_service_app(settings, metadata, [router], title="Styrkedja LIKA service")


app = create_app(LikaSettings())
