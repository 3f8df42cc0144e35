"""Hostile inputs, sixth round: what round 5 left open, each fixed at its general rule.

- HTTP: ~13,000 tiny header fields fit under the kit's 64 KiB head limit and reached the app (each field a
  Python object in every layer); now more than `MAX_HEADER_COUNT` fields is a 431 naming `headers` and the
  rule `max_header_count`, under either of uvicorn's parsers, before any app code runs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_hostile_round3 import GET, _exchange, _problem, size_echo_server

from styrkedja_kit.server import MAX_HEAD_BYTES, MAX_HEADER_COUNT


@pytest.fixture(scope="module", params=["ProblemH11Protocol", "ProblemHttpProtocol"])
def protocol_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with size_echo_server(tmp_path_factory.mktemp("protocol_server6"), request.param) as port:
        yield port


def _headers(count: int) -> bytes:
    return b"a:b\r\n" * count  # the tiniest field: 5 bytes


@pytest.mark.parametrize("count", [MAX_HEADER_COUNT, 12_000])  # + Host: one over the cap; and round 5's flood
def test_too_many_header_fields_are_a_431_naming_the_rule(protocol_server, count):
    """Failed on the old code: 200 for both (12,000 fields are 60 kB, under the head's byte limit)."""
    head = GET + _headers(count) + b"\r\n"
    assert len(head) < MAX_HEAD_BYTES  # the count decides, not the size
    answer = _exchange(protocol_server, [head])
    assert _problem(answer) == (431, "headers", "max_header_count"), answer[:300]


def test_as_many_header_fields_as_allowed_pass(protocol_server):
    """The cap counts Host too: Host and 98 more fields, and a second request on the connection, pass."""
    fields = _headers(MAX_HEADER_COUNT - 2) + b"Connection: keep-alive\r\n"
    answer = _exchange(protocol_server, [GET + fields + b"\r\n" + GET + fields[:-24] + b"Connection: close\r\n\r\n"])
    assert answer.count(b"HTTP/1.1 200") == 2, answer[:300]
