"""Every table of the service, for Alembic and the app: importing the capabilities' table modules
registers their tables on the shared metadata."""

from .calendar import tables as _calendar  # noqa: F401
from .forecasts import tables as _forecasts  # noqa: F401
from .metadata import metadata

__all__ = ["metadata"]
