"""One offline runtime per test module: moto runs the deployed ASL with the real handlers."""

from collections.abc import Iterator

import pytest

from mecroute.local.runtime import OfflineRuntime


@pytest.fixture(scope="module")
def runtime() -> Iterator[OfflineRuntime]:
    # time_scale shortens the nodes' emulated compute sleeps; routing figures are unchanged.
    with OfflineRuntime(time_scale=0.1) as started:
        yield started


@pytest.fixture
def invocations(runtime: OfflineRuntime) -> list[tuple[str, bool]]:
    """The (agent, succeeded) Lambda invocations made during one test."""
    assert runtime.lambdas is not None
    runtime.lambdas.invocations.clear()
    return runtime.lambdas.invocations
