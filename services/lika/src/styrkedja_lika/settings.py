from styrkedja_kit.settings import ServiceSettings


class LikaSettings(ServiceSettings):
    service_name: str = "lika"
