"""Every table of the service, for Alembic and the app: importing the capabilities' table modules
registers their tables on the shared metadata."""

from .assessments import tables as _assessments  # noqa: F401
from .metadata import metadata
from .plans import tables as _plans  # noqa: F401
from .support import tables as _support  # noqa: F401

__all__ = ["metadata"]
