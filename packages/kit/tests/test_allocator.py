"""`app.tune_allocator`: reporting's allocator settings reach glibc's mallopt, and nothing is set
where none is asked for or the C library is another."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from styrkedja_kit import app


def test_nothing_asked_for_sets_nothing() -> None:
    assert app.tune_allocator(None, None, None) is False


def test_another_c_library_sets_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert app.tune_allocator(128 * 1024, 128 * 1024, 2) is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_glibc_takes_the_settings() -> None:
    # in a process of its own: the settings stay for the rest of a process
    code = ("from styrkedja_kit.app import tune_allocator; "
            "print(tune_allocator(128 * 1024, 128 * 1024, 2), tune_allocator(None, 64 * 1024, None))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["True", "True"]

