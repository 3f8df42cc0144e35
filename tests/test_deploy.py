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


def _strimzi_errors(doc: dict) -> list[str]:
    import json

    import jsonschema

    schema = json.loads((CHECKER.parent / "schemas" / "strimzi-v1.schema.json").read_text())
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]


def test_the_strimzi_schema_rejects_typos_the_operator_would_ignore():
    import yaml

    topics = [d for d in yaml.safe_load_all((CHECKER.parent / "k8s" / "kafka" / "topics.yaml").read_text()) if d]
    users = [d for d in yaml.safe_load_all((CHECKER.parent / "k8s" / "kafka" / "users.yaml").read_text()) if d]
    assert not _strimzi_errors(topics[0]) and not _strimzi_errors(users[0])
    typo = {**topics[0], "spec": {**topics[0]["spec"], "partitons": 6}}
    assert _strimzi_errors(typo), "an unknown KafkaTopic field must fail"
    no_isr = {**topics[0], "spec": {**topics[0]["spec"], "config": {"retention.ms": "1"}}}
    assert _strimzi_errors(no_isr), "a topic without min.insync.replicas must fail"
    acl = users[0]["spec"]["authorization"]["acls"][0]
    bad_user = {**users[0], "spec": {**users[0]["spec"], "authorization": {
        "type": "simple", "acls": [{**acl, "operations": ["Writ"]}]}}}
    assert _strimzi_errors(bad_user), "an unknown ACL operation must fail"


def test_docker_compose_config_accepts_the_file():
    import shutil
    import subprocess

    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no `docker compose` client here (the offline checks above still ran)")
    root = CHECKER.parents[1]
    result = subprocess.run([docker, "compose", "-f", str(root / "docker-compose.yml"), "config", "--quiet"],
                            capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr
