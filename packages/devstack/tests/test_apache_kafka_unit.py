"""The Apache Kafka half of the devstack without starting it: what is missing is said in one line,
the pinned version is read from the pom, and the broker matrix is read from the environment."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from styrkedja_devstack import apache_kafka, pytest_plugin


def test_without_java_the_reason_is_one_line_saying_what_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(apache_kafka.shutil, "which", lambda name: None)
    reason = apache_kafka.missing_requirements()
    assert reason is not None and "\n" not in reason
    assert "Java 17+" in reason and "Maven" in reason and "apt-get install" in reason


def test_an_old_java_is_not_enough(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(apache_kafka, "java_major_version", lambda: 11)
    assert "found 11" in (apache_kafka.missing_requirements() or "")


def test_the_pinned_version_is_a_4x_release():
    assert re.fullmatch(r"4\.\d+\.\d+", apache_kafka.kafka_version())


def test_broker_matrix_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("STYRKEDJA_TEST_BROKERS", raising=False)
    assert pytest_plugin.broker_params() == ["embedded", "kafka"]
    monkeypatch.setenv("STYRKEDJA_TEST_BROKERS", "embedded")
    assert pytest_plugin.broker_params() == ["embedded"]
    monkeypatch.setenv("STYRKEDJA_TEST_BROKERS", "embeded")
    with pytest.raises(pytest.UsageError):
        pytest_plugin.broker_params()
    monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", "k:9092")
    assert pytest_plugin.broker_params() == ["external"]


def test_kraft_cluster_ids_are_16_bytes_base64url():
    cluster_id = apache_kafka._kraft_cluster_id()
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id)


def test_make_run_warns_once_the_embedded_broker_passes_the_memory_threshold(monkeypatch, capsys):
    import os
    from types import SimpleNamespace

    from styrkedja_devstack.__main__ import BrokerMemoryWatch

    monkeypatch.setenv("STYRKEDJA_EMBEDDED_BROKER_MEMORY_WARN_MIB", "1")  # this test process is above 1 MiB
    broker = SimpleNamespace(kind="embedded", process=SimpleNamespace(pid=os.getpid()))
    watch = BrokerMemoryWatch(SimpleNamespace(broker=broker), every=0)
    watch.check()
    out = capsys.readouterr().out
    assert "WARNING: the embedded broker holds" in out and "STYRKEDJA_BROKER=kafka" in out
    apache = BrokerMemoryWatch(SimpleNamespace(broker=SimpleNamespace(kind="kafka", process=broker.process)), every=0)
    apache.check()
    assert capsys.readouterr().out == "", "Apache Kafka's memory is bounded: no warning"


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch):
    """`kafka-storage format --cluster-id -AbC...` takes the id for an option (a CI run failed so)."""
    import uuid

    dashed = uuid.UUID(bytes=bytes([0xF8]) + bytes(15))  # base64 "-A...": the first draw starts with a dash
    draws = iter([dashed, uuid.UUID(int=1)])
    monkeypatch.setattr(apache_kafka.uuid, "uuid4", lambda: next(draws))
    cluster_id = apache_kafka._kraft_cluster_id()
    assert not cluster_id.startswith("-") and len(cluster_id) == 22


def test_two_processes_resolving_the_jars_at_once_run_maven_once(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """Maven run twice into one folder copied the same jars over each other (one red CI run): the second waits
    for the first and finds the jars resolved."""
    calls = tmp_path / "calls"
    fake = tmp_path / "mvn"
    fake.write_text(f'#!/bin/sh\necho run >> "{calls}"\nsleep 0.5\n'
                    'for a in "$@"; do case "$a" in\n'
                    '  -DoutputDirectory=*) touch "${a#-DoutputDirectory=}/kafka.jar";; esac; done\n')
    fake.chmod(0o755)
    monkeypatch.setattr(apache_kafka.shutil, "which", lambda name: str(fake) if name == "mvn" else None)
    lib = tmp_path / "apache-kafka" / "lib"
    with ThreadPoolExecutor(2) as pool:
        resolved = list(pool.map(lambda _: apache_kafka.resolve_jars(lib), range(2)))
    assert resolved == [lib, lib] and (lib / "kafka.jar").exists() and (lib / ".complete").exists()
    assert calls.read_text().splitlines() == ["run"]


@pytest.mark.parametrize("failures, runs, resolves", [(1, 2, True), (5, 3, False)])
def test_a_maven_run_that_fails_is_tried_again_at_most_three_times(monkeypatch: pytest.MonkeyPatch, tmp_path,
                                                                     failures: int, runs: int, resolves: bool):
    calls = tmp_path / "calls"
    fake = tmp_path / "mvn"
    fake.write_text(f'#!/bin/sh\necho run >> "{calls}"\n'
                    f'[ "$(wc -l < "{calls}")" -le {failures} ] && {{ echo "Failed to copy full contents"; exit 1; }}\n'
                    'exit 0\n')
    fake.chmod(0o755)
    monkeypatch.setattr(apache_kafka.shutil, "which", lambda name: str(fake) if name == "mvn" else None)
    monkeypatch.setattr(apache_kafka._copy_dependencies.retry, "sleep", lambda seconds: None)
    lib = tmp_path / "lib"
    if resolves:
        assert apache_kafka.resolve_jars(lib) == lib and (lib / ".complete").exists()
    else:
        with pytest.raises(RuntimeError, match="Failed to copy full contents"):
            apache_kafka.resolve_jars(lib)
        assert not (lib / ".complete").exists()
    assert len(calls.read_text().splitlines()) == runs
