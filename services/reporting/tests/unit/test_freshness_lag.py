"""The lag a read reports: the sum over the service's consumers, unknown if any one is unknown."""

from types import SimpleNamespace

from styrkedja_reporting import freshness
from styrkedja_reporting.main import _lag_of


def loops(*lags):
    return SimpleNamespace(consumers=[SimpleNamespace(lag=lambda value=value: value) for value in lags])


def test_the_lag_is_the_sum_and_unknown_when_any_consumer_cannot_tell() -> None:
    assert _lag_of(loops(3, 4)) == 7
    assert _lag_of(loops(0)) == 0
    assert _lag_of(loops(3, None)) is None  # e.g. the embedded broker, or not assigned yet
    assert _lag_of(loops()) is None  # no consumer in this process


def test_a_new_app_forgets_the_lag_of_the_one_before() -> None:
    from styrkedja_reporting.main import create_app
    from styrkedja_reporting.settings import ReportingSettings

    freshness.follow_lag(lambda: 5)
    create_app(ReportingSettings(database_url="postgresql+asyncpg://u@127.0.0.1:1/x"))
    assert freshness._lag_source is None


def test_the_answer_cache_takes_its_byte_budget_from_the_settings() -> None:
    from styrkedja_reporting.access.answers import ANSWERS
    from styrkedja_reporting.main import create_app
    from styrkedja_reporting.settings import ReportingSettings

    before = ANSWERS.max_bytes
    try:
        create_app(ReportingSettings(database_url="postgresql+asyncpg://u@127.0.0.1:1/x", read_cache_max_mb=3))
        assert ANSWERS.max_bytes == 3 * 2**20
        create_app(ReportingSettings(database_url="postgresql+asyncpg://u@127.0.0.1:1/x"))
        assert ANSWERS.max_bytes == 16 * 2**20
    finally:
        ANSWERS.max_bytes = before
