"""One stack of the four services for the end-to-end tests of one broker, instead of one per test.

Starting four service processes on fresh databases, and letting a new reporting consumer group read
what earlier tests left on the shared topics, was most of what an end-to-end test cost. The tests
here only publish and read, each with organisers, school units and groups of its own (`Mittkoping`,
`Municipality`, fresh ids), so they do not see each other's figures on one stack either; each keeps
asserting exactly what it asserted on a stack of its own. A test that kills, stops or restarts a
process of its stack says so with `@pytest.mark.own_stack` and gets one of its own, as every fault
test in `tests/faults` does. The shared stack ends with the last test of this package (on each
broker), before the fault tests restart or freeze the broker.
"""

from __future__ import annotations

import pytest

from stacks import Stack, running_stack


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "own_stack: the end-to-end test kills, stops or restarts a process of its "
                                       "stack: it gets a stack of its own instead of the shared one")


@pytest.fixture(scope="package")
def shared_stack(infrastructure, token_issuer, tmp_path_factory):
    """The package's stack on this broker (see the module's docstring)."""
    with running_stack(infrastructure, token_issuer, tmp_path_factory.mktemp("shared-stack") / "logs") as shared:
        yield shared


@pytest.fixture
def stack(request: pytest.FixtureRequest, infrastructure, token_issuer, tmp_path):
    """The shared stack, checked alive before and after the test; a stack of its own for a test
    marked `own_stack`."""
    if request.node.get_closest_marker("own_stack"):
        with running_stack(infrastructure, token_issuer, tmp_path / "logs") as own:
            yield own
        return
    shared: Stack = request.getfixturevalue("shared_stack")
    assert not shared.dead(), f"the shared stack lost {shared.dead()} before this test; see {shared.log_dir}"
    yield shared
    if shared.dead():
        pytest.fail(f"{shared.dead()} of the shared stack exited during this test (see {shared.log_dir}): "
                    f"a test that kills or stops a process takes @pytest.mark.own_stack", pytrace=False)
