"""What reaches a log from hostile requests: uvicorn's own access and error lines (its loggers write
to handlers of their own, configured before the application's) never carry a personal identity
number, in any spelling, percent-encoded or not, and keep their shape."""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Iterator

import pytest

from styrkedja_contracts.identifiers import contains_personal_identity_number
from styrkedja_kit.logging import configure_logging
from support import uvicorn_lines


@pytest.fixture
def uvicorn_logs() -> Iterator[io.StringIO]:
    """uvicorn's logging as its command line sets it up, then the service's own (`create_service_app` →
    `configure_logging`)."""
    with uvicorn_lines(lambda: configure_logging("hostile-logs")) as buffer:
        yield buffer


@pytest.mark.parametrize("path", [
    "/v1/lika/school-units?organiser_id=19121212-1212",
    "/v1/units/19121212%2D1212",
    "/v1/units?q=121212%2B1212",
    "/v1/units?q=121212+1212",
    "/v1/units?q=19121212%E2%80%931212",
    "/v1/units?q=%EF%BC%91%EF%BC%99%EF%BC%91%EF%BC%92%EF%BC%91%EF%BC%92%EF%BC%91%EF%BC%92-1212",
])
def test_the_access_line_of_a_request_naming_a_personal_identity_number_is_redacted(uvicorn_logs, path) -> None:
    """Failed on the old code: uvicorn's access line went out as the client sent it."""
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 422)
    line = uvicorn_logs.getvalue()
    assert '"GET ' in line and " 422" in line, line  # the line keeps its shape
    assert not contains_personal_identity_number(line), line
    assert "[REDACTED]" in line


def test_an_access_line_without_one_is_left_as_it_is(uvicorn_logs) -> None:
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                                             "/v1/units?q=2999%2D11&code=29990011", "1.1", 200)
    assert "/v1/units?q=2999%2D11&code=29990011" in uvicorn_logs.getvalue()


def test_the_servers_error_lines_are_redacted(uvicorn_logs) -> None:
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received: %s", "GET /x/19121212-1212")
    assert not contains_personal_identity_number(uvicorn_logs.getvalue())
