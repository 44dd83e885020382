"""One offline runtime for every reliability test: moto runs the deployed ASL with the real
handlers and three real MEC node processes. Each test that breaks something puts it back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mecroute.local.runtime import OfflineRuntime

from .faults import dead_letter_queue, drain

HARD_PROMPT = (
    "Prove step by step that the integral of x^2 from 0 to 1 equals 1/3, derive the general "
    "formula for x^n, explain why the fundamental theorem of calculus applies, and compare "
    "it with the Riemann-sum derivation. Evaluate the implication for n = 2.5 and justify "
    "each step; compute the error of a 10-interval trapezoid estimate."
)


@pytest.fixture(scope="package")
def runtime() -> Iterator[OfflineRuntime]:
    # time_scale shortens the nodes' emulated compute sleeps; routing figures are unchanged.
    with OfflineRuntime(time_scale=0.1) as started:
        yield started


@pytest.fixture(autouse=True)
def isolated(request: pytest.FixtureRequest) -> Iterator[None]:
    """For tests on the runtime: each sees only the dead letters it caused, and a test that
    kills or replaces a node leaves a fresh one in its place."""
    if "runtime" not in request.fixturenames:
        yield
        return
    runtime: OfflineRuntime = request.getfixturevalue("runtime")
    drain(dead_letter_queue(runtime))
    yield
    for node in list(runtime.nodes):
        if node.process.poll() is not None:
            runtime.restart_node(node.profile.node_id)
