"""`app_on_first_access`: a service module's `main:app` is built when first asked for, from settings read
then (importing the module reads no environment), once per process; any other name is an AttributeError."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from styrkedja_kit.app import app_on_first_access
from styrkedja_kit.settings import ServiceSettings


def test_the_app_is_built_on_first_access_only_and_once() -> None:
    built: list[ServiceSettings] = []

    read: list[ServiceSettings] = []

    def create_app(settings: Any) -> FastAPI:
        built.append(settings)
        return FastAPI()

    def settings() -> ServiceSettings:
        read.append(ServiceSettings())
        return read[-1]

    module_getattr = app_on_first_access(create_app, settings)
    assert read == [] and built == [], "nothing is read or built before `app` is asked for"
    app = module_getattr("app")
    assert module_getattr("app") is app and built == read and len(read) == 1
    with pytest.raises(AttributeError, match="routes"):
        module_getattr("routes")
