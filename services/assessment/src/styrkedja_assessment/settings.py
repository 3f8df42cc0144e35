from pydantic import Field

from styrkedja_kit.settings import ServiceSettings


class AssessmentSettings(ServiceSettings):
    service_name: str = "assessment"
    max_batch_items: int = Field(1000, ge=1, le=10_000)
