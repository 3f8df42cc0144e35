"""The session store: sign-ins in flight are short-lived and bounded, signed-in sessions are not touched by them."""

from __future__ import annotations

from typing import Any, cast

import pytest
from fastapi import Request

from styrkedja_dashboard.web import sessions as module
from styrkedja_dashboard.web.sessions import COOKIE, SessionStore


class _Request:
    def __init__(self, sid: str | None = None) -> None:
        self.cookies = {COOKIE: sid} if sid else {}


def request(sid: str | None = None) -> Request:
    return cast(Request, _Request(sid))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(module.time, "time", clock)
    return clock


def sign_in(store: SessionStore, pending: Any, clock: Clock) -> Any:
    fresh = store.rotate(pending)
    fresh.token, fresh.token_expires_at = "t", clock.now + 3600
    return fresh


def test_a_sign_in_left_unfinished_is_gone_after_minutes_a_finished_one_lasts_the_session(clock):
    store = SessionStore(8 * 3600, secure=False)
    pending = store.get_or_create(request())
    assert pending.expires_at == clock.now + module.PENDING_SECONDS  # was the whole 8 hours
    signed = sign_in(store, store.get_or_create(request()), clock)
    assert signed.expires_at == clock.now + 8 * 3600
    clock.now += module.PENDING_SECONDS + 1
    assert store.get(request(pending.id)) is None
    assert store.get(request(signed.id)) is signed


def test_sign_ins_in_flight_are_bounded_and_never_push_out_a_signed_in_session(clock, monkeypatch):
    """Failed on the old code: every /logga-in without a cookie kept a session for the whole lifetime."""
    monkeypatch.setattr(module, "MAX_PENDING", 50)
    store = SessionStore(8 * 3600, secure=False)
    signed = sign_in(store, store.get_or_create(request()), clock)
    started = [store.get_or_create(request()) for _ in range(5000)]
    assert len(store._sessions) <= 51 and len(store._pending) <= 50
    assert store.get(request(signed.id)) is signed
    assert store.get(request(started[-1].id)) is started[-1]  # the newest sign-ins still finish
    assert store.get(request(started[0].id)) is None


def test_a_signed_in_session_starting_a_sign_in_again_keeps_its_lifetime(clock):
    store = SessionStore(8 * 3600, secure=False)
    signed = sign_in(store, store.get_or_create(request()), clock)
    assert store.get_or_create(request(signed.id)) is signed and not store._pending
    store.drop(signed)
    assert store.get(request(signed.id)) is None
