from styrkedja_kit.settings import ServiceSettings


class AssessmentSettings(ServiceSettings):
    service_name: str = "assessment"
