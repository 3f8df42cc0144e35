"""Every table of the service on one MetaData (what migrations and the migration test read)."""

from . import registry  # noqa: F401  (freshness)
from .access import tables as access_tables  # noqa: F401
from .alerts import tables as alert_tables  # noqa: F401
from .compliance import tables as compliance_tables  # noqa: F401
from .directory import tables as directory_tables  # noqa: F401
from .figures import tables as figure_tables  # noqa: F401
from .lika import tables as lika_tables  # noqa: F401
from .metadata import metadata
from .results import tables as results_tables  # noqa: F401
from .support import tables as support_tables  # noqa: F401

__all__ = ["metadata"]
