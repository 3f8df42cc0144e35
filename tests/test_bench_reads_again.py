"""bench/speed.py's second reads on a quiet machine and its record of the final check (scale32): the reads' tail on
two cores follows the neighbours' load, so `--reads-again-below-load` waits, bounded, for the load to fall and reads
the same served database again; a consistency check past the client's patience is recorded, not the run's end."""

import httpx
import pytest
from bench_scripts import ROOT, FakeTime
from bench_scripts import speed as speed_module


def quiet(loads, below=2.5, max_s=60.0):
    """wait_for_quiet on a fake clock; `loads(t)` the load average at t. Its answer and the times it looked."""
    clock, looked = FakeTime(), []

    def load() -> float:
        looked.append(clock.t)
        return loads(clock.t)

    return speed_module().wait_for_quiet(below, max_s, load=load, now=clock.now, sleep=clock.sleep), looked


def test_a_quiet_machine_is_read_at_once():
    answer, looked = quiet(lambda t: 1.2)
    assert answer == (0.0, 1.2) and looked == [0.0]


def test_waits_for_the_load_to_fall_below_the_threshold():
    answer, _ = quiet(lambda t: 6.0 if t < 30 else 2.4)
    assert answer == (30.0, 2.4)


def test_the_threshold_itself_is_not_quiet():
    answer, _ = quiet(lambda t: 2.5, max_s=20.0)
    assert answer is None


def test_gives_up_within_the_bound_and_says_so():
    answer, looked = quiet(lambda t: 8.0, max_s=45.0)
    assert answer is None
    assert max(looked) <= 45.0  # never waits past the bound


def test_a_consistency_check_past_the_timeout_is_recorded_not_raised(monkeypatch):
    speed = speed_module()

    def slow(*args, **kwargs):
        assert kwargs["timeout"] == 1800
        raise httpx.ReadTimeout("no answer")

    class Tokens:
        def ops(self) -> dict[str, str]:
            return {}

    monkeypatch.setattr(speed.httpx, "get", slow)
    monkeypatch.setattr(speed, "CONSISTENCY_CHECKS", [])
    assert speed.consistency("http://reporting", Tokens(), 1800) is False
    assert speed.CONSISTENCY_CHECKS[0]["timed_out"] is True and speed.CONSISTENCY_CHECKS[0]["consistent"] is None


def test_each_process_memory_has_its_peak():
    speed = speed_module()
    import os

    mine = speed.rss_by_process(os.getpid())
    assert mine and all(p["vmhwm_mb"] is not None and p["vmhwm_mb"] >= p["rss_mb"] for p in mine)
    assert speed.vmhwm_mb(2**22 + 7) is None  # no such process: None, not an error


@pytest.mark.parametrize("option", ["--reads-again-below-load", "--reads-again-wait", "--consistency-timeout"])
def test_the_options_are_offered(option):
    assert f'"{option}"' in (ROOT / "bench" / "speed.py").read_text()
