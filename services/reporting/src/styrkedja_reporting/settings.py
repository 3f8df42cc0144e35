from pydantic import Field

from styrkedja_kit.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    consumer_group: str = "reporting"
    # Ready again soon after a SIGKILL: the group hands the partitions over once the dead member's
    # session times out. The kit picks the session from the broker's capabilities (6 s on Apache
    # Kafka, its smallest by default; 1 s on the embedded broker); with Apache Kafka,
    # `consumer_group_instance_id` (static membership) makes the hand-over immediate.
    # stödinsatser: an investigation (utredning) open longer than this is listed as overdue
    support_investigation_weeks: int = Field(8, ge=1, le=104)
    # freshness bands of the figures (aktualitet): green under `yellow_from`, red over `red_after` months
    freshness_yellow_from_months: int = Field(4, ge=1, le=120)
    freshness_red_after_months: int = Field(8, ge=1, le=120)
