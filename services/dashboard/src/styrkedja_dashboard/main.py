"""`uvicorn styrkedja_dashboard.main:app` (port 8100 under `make run`)."""

from .app import create_app
from .settings import DashboardSettings

app = create_app(DashboardSettings())
