"""Every table of the service, for Alembic and the app: importing the capabilities' table modules
registers their tables on the shared metadata."""

from .action_plans import tables as _action_plans  # noqa: F401
from .metadata import metadata
from .self_assessments import tables as _self_assessments  # noqa: F401

__all__ = ["metadata"]
