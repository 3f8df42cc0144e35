from pydantic import Field

from styrkedja_contracts.identifiers import Term
from styrkedja_kit.settings import ServiceSettings

from .forecasts.rules import WindowConfig


class ForecastSettings(ServiceSettings):
    service_name: str = "forecast"

    # Default reporting windows (every organiser, until per-organiser windows are configured).
    window_vt_week: int = Field(13, ge=1, le=52, description="ISO week of the spring-term (VT) window.")
    window_ht_week: int = Field(43, ge=1, le=52, description="ISO week of the autumn-term (HT) window.")
    window_deadline_weekday: int = Field(5, ge=1, le=7, description="ISO weekday of the deadline (5 = Friday).")
    window_grace_days: int = Field(0, ge=0, le=60)
    window_timezone: str = "Europe/Stockholm"

    def window_config(self) -> WindowConfig:
        return WindowConfig(weeks={Term.VT: self.window_vt_week, Term.HT: self.window_ht_week},
                            deadline_weekday=self.window_deadline_weekday, grace_days=self.window_grace_days,
                            timezone=self.window_timezone)
