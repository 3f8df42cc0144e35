"""Ports for the services of one stack: never the same one twice, even when the kernel offers it again."""

from __future__ import annotations

import socket

from styrkedja_devstack import postgres
from styrkedja_devstack.postgres import free_port


def test_free_port_never_hands_out_a_port_twice(monkeypatch):
    offered = iter([41001, 41001, 41002])

    class FakeSocket:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def bind(self, address):
            self.port = next(offered)

        def getsockname(self):
            return ("127.0.0.1", self.port)

    monkeypatch.setattr(postgres, "_HANDED_OUT", set())
    monkeypatch.setattr(postgres.socket, "socket", FakeSocket)
    assert [free_port(), free_port()] == [41001, 41002]


def test_free_port_gives_a_port_one_can_listen_on():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
