"""make bench's latency stage probes the steady state: its first probe waits for the background load to have run
a while and for reporting to keep up with it (bench/speed.py `wait_until_steady`; bench/results/latency4.json:
the load's first seconds put 25 of 40 probes' medians 2-4x higher). The wait is bounded, so a reporting that
never keeps up is still measured, as a backlog."""

from bench_scripts import ROOT, FakeTime, speed


def wait(answers, min_s=5.0, max_s=30.0):
    clock, checks = FakeTime(), []

    def caught_up() -> bool:
        checks.append(clock.t)
        return answers(clock.t)

    waited, steady = speed().wait_until_steady(caught_up, min_s, max_s, now=clock.now, sleep=clock.sleep)
    return waited, steady, checks


def test_waits_the_minimum_even_when_caught_up_at_once():
    waited, steady, checks = wait(lambda t: True)
    assert steady and checks[0] >= 5.0
    assert waited == 5.5  # two checks in a row, half a second apart


def test_a_lag_seen_again_starts_the_count_anew():
    # caught up at 5.0, behind at 5.5, then caught up for good
    waited, steady, _ = wait(lambda t: t != 5.5)
    assert steady and waited == 6.5


def test_gives_up_after_the_maximum_and_says_so():
    waited, steady, _ = wait(lambda t: False, max_s=12.0)
    assert not steady and waited == 12.0


def test_make_bench_warms_up_by_default():
    source = (ROOT / "bench" / "speed.py").read_text()
    assert '"--latency-warmup-s", type=float, default=5.0' in source
    assert '"--latency-samples", type=int, default=100' in source
