"""A request that fails in the database for the moment's sake, not its own: every pool connection in use, the
server refusing connections or gone, a lost race outside the write path. A 503 `database_busy` with a
Retry-After, or a 409 `concurrent_change`, as problem+json; any other database error stays the service's own
fault (a 500, logged). (Over HTTP: tests/test_hostile_round9.py, a pool held by requests waiting for a row.)"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from styrkedja_kit.problems import RETRY_AFTER_SECONDS, database_refusal, document_problems, install_problem_handlers


class _Driver(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"driver error {sqlstate}")
        self.sqlstate = sqlstate


def _failed(sqlstate: str, kind: type[DBAPIError] = DBAPIError) -> DBAPIError:
    return kind("SELECT 1", None, _Driver(sqlstate))


REFUSALS: list[tuple[BaseException, tuple[int, str] | None]] = [
    (PoolTimeout("QueuePool limit of size 1 overflow 1 reached"), (503, "database_busy")),
    (_failed("53300"), (503, "database_busy")),  # too_many_connections
    (_failed("08006"), (503, "database_busy")),  # connection_failure
    (_failed("57P03"), (503, "database_busy")),  # cannot_connect_now (starting up)
    (_failed("08P01"), (503, "database_busy")),  # protocol_violation: a pooler's query_wait_timeout
    (_failed("55P03"), (503, "database_busy")),  # lock_not_available (lock_timeout)
    (_failed("57014"), (503, "database_busy")),  # query_canceled (statement_timeout)
    (ConnectionRefusedError(111, "refused"), (503, "database_busy")),
    (_failed("40P01"), (409, "concurrent_change")),  # deadlock_detected
    (_failed("40001"), (409, "concurrent_change")),  # serialization_failure
    (_failed("23505", IntegrityError), None),  # a unique violation the service did not expect: its own fault
    (_failed("42P01"), None),  # undefined_table: a service bug
    (ValueError("not the database's"), None),
]


@pytest.mark.parametrize("error, expected", REFUSALS, ids=[repr(e)[:40] for e, _ in REFUSALS])
def test_which_database_failures_are_the_moments(error: BaseException, expected: tuple[int, str] | None) -> None:
    refusal = database_refusal(error)
    assert (refusal[:2] if refusal else None) == expected


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    errors = dict(enumerate(error for error, _ in REFUSALS))

    @app.get("/v1/fail/{n}")
    async def fail(n: int) -> None:
        raise errors[n]

    return app


def test_a_refusal_is_a_problem_naming_the_rule_and_anything_else_stays_a_500() -> None:
    """Failed on the old code: every one of these was a plain-text 500."""
    client = TestClient(_app(), raise_server_exceptions=False)
    for n, (_, expected) in enumerate(REFUSALS):
        answer = client.get(f"/v1/fail/{n}")
        if expected is None:
            assert answer.status_code == 500, n
            continue
        assert answer.status_code == expected[0], (n, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("request", expected[1])]
        assert ("retry-after" in answer.headers) == (expected[0] == 503)
        if expected[0] == 503:
            assert answer.headers["retry-after"] == str(RETRY_AFTER_SECONDS)


def test_every_operation_of_the_service_documents_the_503_and_its_retry_after() -> None:
    document = document_problems(_app().openapi())
    busy = document["paths"]["/v1/fail/{n}"]["get"]["responses"]["503"]
    assert "application/problem+json" in busy["content"] and "Retry-After" in busy["headers"]
