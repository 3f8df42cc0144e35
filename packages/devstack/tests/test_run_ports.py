"""`make run` with a port already held (a second clone's `make run`, a leftover server) stops before it
starts anything, naming the port, what wanted it and the variable that moves it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from styrkedja_devstack import __main__ as devstack_main
from styrkedja_devstack.postgres import free_port


@pytest.fixture
def held_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_held_port_is_named_with_the_variable_that_moves_it(held_port: int) -> None:
    free = free_port()
    env = {"STYRKEDJA_EMBEDDED_KAFKA_PORT": str(held_port), "STYRKEDJA_DEV_ISSUER_PORT": str(free)}
    lines = devstack_main.taken_ports(env)
    mine = [line for line in lines if f"port {held_port} " in line]
    assert len(mine) == 1 and "(the broker)" in mine[0] and "STYRKEDJA_EMBEDDED_KAFKA_PORT" in mine[0]
    assert not [line for line in lines if f"port {free} " in line]


def test_external_servers_need_no_local_port(held_port: int) -> None:
    env = {"STYRKEDJA_EMBEDDED_PG_PORT": str(held_port), "STYRKEDJA_POSTGRES_URL": "postgresql://db:5432",
           "STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"}
    assert [what for what, _, _ in devstack_main.ports_wanted(env)][:1] == ["the dev OIDC issuer"]
    assert not [line for line in devstack_main.taken_ports(env) if f"port {held_port} " in line]


def test_run_stops_before_starting_anything(held_port: int, monkeypatch, capsys, tmp_path: Path) -> None:
    def must_not_start(*args: object, **kwargs: object) -> None:
        raise AssertionError("started PostgreSQL and the broker although a port is taken")

    monkeypatch.setenv("STYRKEDJA_DASHBOARD_PORT", str(held_port))
    monkeypatch.setattr(devstack_main.Infrastructure, "start", must_not_start)
    assert devstack_main.run(tmp_path / ".styrkedja") == 2
    err = capsys.readouterr().err
    assert err.startswith("cannot start: ") and f"port {held_port} (the dashboard) is taken" in err
    assert "STYRKEDJA_DASHBOARD_PORT" in err
    assert not (tmp_path / ".styrkedja").exists()
