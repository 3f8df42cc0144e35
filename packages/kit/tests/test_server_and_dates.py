"""The pure rules behind round 4's fixes in the kit: what the h11 protocol refuses besides h11 itself
(`server._refusal`), and the NumericDate bounds of a token's dates (`auth.tokens._numeric_dates`)."""

from __future__ import annotations

import h11
import pytest

from styrkedja_kit.auth.tokens import LATEST_NUMERIC_DATE, InvalidToken, _numeric_dates
from styrkedja_kit.security import SECURITY_HEADERS
from styrkedja_kit.server import MAX_HEAD_BYTES, _refusal, problem_bytes


def _request(target: bytes = b"/", headers: list[tuple[bytes, bytes]] | None = None,
             version: bytes = b"1.1") -> h11.Request:
    return h11.Request(method=b"GET", target=target, headers=[(b"host", b"h"), *(headers or [])],
                       http_version=version)


@pytest.mark.parametrize("label, request_, status", [
    ("a control byte in a value", _request(headers=[(b"x-a", b"a\x01b")]), 400),
    ("DEL in a value", _request(headers=[(b"x-a", b"a\x7f")]), 400),
    ("an escape in a value", _request(headers=[(b"x-a", b"\x1b[31m")]), 400),
    ("HTTP/2.0", _request(version=b"2.0"), 400),
    ("both framings", _request(headers=[(b"content-length", b"3"), (b"transfer-encoding", b"chunked")]), 400),
    ("a head over the limit", _request(headers=[(b"x-a", b"a" * MAX_HEAD_BYTES)]), 431),
])
def test_what_the_h11_protocol_refuses_besides_h11(label, request_, status):
    refusal = _refusal(request_)
    assert refusal is not None and refusal[0] == status, label


def test_what_the_h11_protocol_lets_through():
    for request in (_request(headers=[(b"x-a", "a\tb Åsa".encode())]), _request(version=b"1.0"),
                    _request(target=b"/v1/x?a=%00&b=%C3%A5"), _request(headers=[(b"content-length", b"3")])):
        assert _refusal(request) is None


@pytest.mark.parametrize("claims", [{"exp": 10**400}, {"exp": 2**70}, {"exp": 1e308}, {"exp": "1"}, {"exp": True},
                                    {"iat": -1}, {"nbf": float("nan")}, {"exp": LATEST_NUMERIC_DATE + 1}, {"exp": None}])
def test_a_date_claim_outside_a_numericdate_is_refused(claims):
    with pytest.raises(InvalidToken, match="NumericDate"):
        _numeric_dates(claims)


def test_a_numericdate_within_year_9999_passes():
    _numeric_dates({"exp": LATEST_NUMERIC_DATE, "iat": 0, "nbf": 1.5})
    _numeric_dates({"exp": 1_800_000_000, "iat": 1_700_000_000})


@pytest.mark.parametrize("status", [400, 431])
def test_what_the_server_refuses_by_itself_carries_every_security_header(status):
    """Round 25. Failed on the old code: nosniff and no-store only, without the frame rules and no-referrer that
    every answer of the app carries (`security.SECURITY_HEADERS`)."""
    head = problem_bytes(status, "request", "http_syntax", "x").split(b"\r\n\r\n")[0].lower()
    for name, value in [*SECURITY_HEADERS, (b"cache-control", b"no-store")]:
        assert b"\r\n" + name + b": " + value.lower() + b"\r\n" in head + b"\r\n", name
