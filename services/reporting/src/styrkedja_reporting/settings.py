from styrkedja_kit.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    consumer_group: str = "reporting"
