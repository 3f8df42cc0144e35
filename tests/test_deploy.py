"""The deployment files agree with the code: topics and partitions from the contracts registry,
one database and user per service, ports and probes (see deploy/check_manifests.py)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

CHECKER = Path(__file__).resolve().parents[1] / "deploy" / "check_manifests.py"


def test_manifests_agree_with_the_registry_and_the_services(capsys):
    checker = runpy.run_path(str(CHECKER))
    assert checker["main"]() == 0, capsys.readouterr().out


def test_kafka_connection_options_carry_tls_and_scram_only_when_asked():
    from styrkedja_kit.kafka import connection_options
    from styrkedja_kit.settings import ServiceSettings

    plain = connection_options(ServiceSettings(kafka_bootstrap_servers="k:9092"))
    assert plain == {"bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT"}
    secure = connection_options(ServiceSettings(
        kafka_bootstrap_servers="k:9093", kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="assessment", kafka_sasl_password="s3cret"))
    assert secure["sasl_plain_username"] == "assessment" and secure["sasl_plain_password"] == "s3cret"
    assert secure["sasl_mechanism"] == "SCRAM-SHA-512" and secure["ssl_context"] is not None
    assert "s3cret" not in repr(ServiceSettings(kafka_sasl_password="s3cret")), "secrets must not reach logs"


@pytest.mark.parametrize("url", ["postgresql://u:p@db:5432/x", "postgres://u:p@db:5432/x"])
def test_plain_postgres_uris_get_the_asyncpg_driver(url):
    from styrkedja_kit.settings import ServiceSettings

    assert ServiceSettings(database_url=url).database_url == "postgresql+asyncpg://u:p@db:5432/x"
