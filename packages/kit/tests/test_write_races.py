"""Which failed writes the write path takes for a lost race (tried again, up to `WritePath.race_attempts`, then a
409 `concurrent_change`) and which are the service's own fault (raised: a 500, logged)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from styrkedja_kit.writes import _concurrent


class _Driver(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"driver error {sqlstate}")
        self.sqlstate = sqlstate


def _failed(sqlstate: str | None, kind: type[DBAPIError] = DBAPIError) -> DBAPIError:
    return kind("INSERT", None, _Driver(sqlstate))


@pytest.mark.parametrize("error", [_failed("23505", IntegrityError), _failed("23P01", IntegrityError),
                                   _failed("40P01"), _failed("40001"), _failed(None, IntegrityError)],
                         ids=["unique", "exclusion", "deadlock", "serialization", "integrity without a state"])
def test_a_lost_race_is_tried_again(error: DBAPIError) -> None:
    assert _concurrent(error)


@pytest.mark.parametrize("error", [_failed("23502", IntegrityError), _failed("23503", IntegrityError),
                                   _failed("23514", IntegrityError), _failed("42P01"), _failed(None)],
                         ids=["not null", "foreign key", "check", "undefined table", "no state"])
def test_a_fault_of_the_service_is_not_taken_for_a_race(error: DBAPIError) -> None:
    """Failed on the old code for the three integrity violations: every IntegrityError was a race, tried three
    times and answered 409 `concurrent_change` ("send it again"), a fault no try can mend and no log showed."""
    assert not _concurrent(error)
