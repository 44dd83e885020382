"""Circuit breakers: the transitions on a fake clock, the execute guard in front of a failing
node, the router's breaker constraint, and the learning loop not counting a breaker's refusal."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from mecroute.adapters.breaker_store import MemoryBreakerStore
from mecroute.adapters.memory import MemoryRegistry, MemoryResponseCache
from mecroute.adapters.ports import NodeAnswer, NodeCall, NodeHealth
from mecroute.agents import aggregator, execute, router
from mecroute.agents.breakers import Breakers
from mecroute.agents.guards import Guards, guarded_execute
from mecroute.domain import breaker as transitions
from mecroute.domain.breaker import BreakerPolicy
from mecroute.domain.errors import CircuitOpen, DeadlineExceeded, TierUnavailable
from mecroute.domain.events import OutcomeEvent
from mecroute.domain.messages import CachePlan, Candidate, TierStat
from mecroute.domain.node_protocol import node_error
from mecroute.domain.request import CriterionWeights

from .builders import EDGE_SMALL, NOW, candidate, context, node_status, snapshot, zoo_specs

POLICY = BreakerPolicy(consecutive_failures=3, cooldown_s=30.0, window_min_calls=4)
TARGET = candidate("mec", EDGE_SMALL, node_id="mec-a", placement="hot")


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class FlakyNode:
    """A MEC node that fails while `down`; counts the calls that reached it."""

    down: bool = True
    calls: int = 0
    answers: list[str] = field(default_factory=list)

    def health(self, endpoint: str, node_id: str) -> NodeHealth:
        return NodeHealth(in_flight=0, queue_depth=0, slots=4, hot_models=[EDGE_SMALL])

    def infer(self, endpoint: str, node_id: str, call: NodeCall) -> NodeAnswer:
        self.calls += 1
        if self.down:
            raise TierUnavailable(f"POST {endpoint}/infer failed: connection refused")
        return NodeAnswer("fine", compute_ms=5.0, queued_ms=0.0, input_tokens=3, output_tokens=4)

    def load(
        self, endpoint: str, node_id: str, model_id: str, artifact_key: str, sha256: str
    ) -> None:
        return None


def tiers_with(node: FlakyNode) -> execute.Tiers:
    return execute.Tiers(
        registry=MemoryRegistry(zoo_specs()),
        nodes=node,
        cloud=None,  # type: ignore[arg-type]  # never reached: MEC targets only
        local_models=None,  # type: ignore[arg-type]
        responses=MemoryResponseCache(),
        cloud_backhaul_ms=60.0,
        response_ttl_s=600.0,
    )


def attempt(guards: Guards, node: FlakyNode, target: Candidate = TARGET) -> None:
    ctx = context({"privacy": "strict"})  # never cached, never the cloud
    plan = CachePlan(request_id="req-1", target=target, placement="hot", action="none")
    guarded_execute(guards, ctx, target, plan, tiers_with(node), NOW)


def failing_guard() -> tuple[Guards, Breakers, FlakyNode, Clock]:
    clock = Clock()
    breakers = Breakers(MemoryBreakerStore(), POLICY, clock)
    return Guards(breakers=breakers), breakers, FlakyNode(), clock


# -- the whole cycle through the execute guard ---------------------------------------------------


def test_a_failing_node_is_skipped_without_a_call_probed_after_its_cooldown_and_readmitted() -> (
    None
):
    guards, breakers, node, clock = failing_guard()
    # Given a node that fails three calls in a row
    for _ in range(3):
        with pytest.raises(TierUnavailable):
            attempt(guards, node)
    assert node.calls == 3
    (seen,) = breakers.views()
    assert (seen.state, seen.admits, seen.retry_in_s) == ("open", False, 30.0)
    assert "3 consecutive failures" in seen.reason
    assert "connection refused" in seen.reason

    # Then the next attempt is refused at once: the node is not called (no timeout to wait out)
    clock.now += 29.0
    with pytest.raises(CircuitOpen, match=r"breaker open for another 1\.0 s"):
        attempt(guards, node)
    assert node.calls == 3

    # After the cooldown one probe goes through; a second caller meanwhile is refused
    clock.now += 1.0
    assert breakers.views()[0].state == "half_open"
    node.down = False
    store = breakers.store
    probe = transitions.admit(store.get(seen.breaker_key), clock.now, POLICY)  # type: ignore[arg-type]
    assert probe is not None
    assert probe.probe_started_at == clock.now
    assert store.put_if_unchanged(probe, probe.revision - 1)
    with pytest.raises(CircuitOpen, match="half-open, its one probe is in flight"):
        attempt(guards, node)
    assert node.calls == 3

    # The probe (let us say its caller vanished) times out; the next call probes and succeeds
    clock.now += POLICY.probe_timeout_s
    attempt(guards, node)
    assert node.calls == 4
    (seen,) = breakers.views()
    assert (seen.state, seen.admits, seen.consecutive_failures) == ("closed", True, 0)
    assert seen.reason == "probe succeeded: closed"
    attempt(guards, node)
    assert node.calls == 5


def test_a_failed_probe_opens_the_breaker_for_another_cooldown() -> None:
    guards, breakers, node, clock = failing_guard()
    for _ in range(3):
        with pytest.raises(TierUnavailable):
            attempt(guards, node)
    clock.now += 31.0
    with pytest.raises(TierUnavailable) as failed:
        attempt(guards, node)
    assert not isinstance(failed.value, CircuitOpen)  # the probe reached the node
    (seen,) = breakers.views()
    assert (seen.state, seen.admits) == ("open", False)
    assert seen.reason.startswith("probe failed:")
    assert seen.cooldown_until == clock.now + 30.0


def test_a_healthy_place_writes_nothing_and_other_places_are_untouched() -> None:
    guards, breakers, node, _ = failing_guard()
    node.down = False
    for _ in range(5):
        attempt(guards, node)
    assert breakers.views() == []
    other = candidate("mec", EDGE_SMALL, node_id="mec-b", placement="hot")
    node.down = True
    for _ in range(3):
        with pytest.raises(TierUnavailable):
            attempt(guards, node, other)
    node.down = False
    attempt(guards, node)  # mec-a's breaker is its own
    assert [(v.node_id, v.state) for v in breakers.views()] == [("mec-b", "open")]


def test_busy_or_misaddressed_nodes_and_breaker_refusals_never_trip_a_breaker() -> None:
    saturated = node_error("busy", "Saturated", 429)
    assert not transitions.is_place_failure(saturated)
    assert not transitions.is_place_failure(CircuitOpen("open"))
    assert not transitions.is_place_failure(ValueError("a bug"))
    assert transitions.is_place_failure(node_error("gone", "ArtifactUnavailable", 502))
    assert transitions.is_place_failure(TierUnavailable("connection refused"))
    # a deadline: waiting on the place and giving up counts; not starting for lack of time not
    assert not transitions.is_place_failure(DeadlineExceeded("predicted 900 ms, 200 ms left"))
    abandoned = DeadlineExceeded("no answer before the deadline")
    abandoned.__cause__ = TierUnavailable("timed out")  # what `raise ... from` sets
    assert transitions.is_place_failure(abandoned)


# -- the transitions, with a fake clock ----------------------------------------------------------


def test_a_failure_rate_over_the_window_opens_the_breaker_without_consecutive_failures() -> None:
    state = transitions.closed("mec", "mec-a", EDGE_SMALL)
    now = NOW
    # fail, succeed, fail, succeed...: never two failures in a row
    for index in range(8):
        now += 1
        if index % 2 == 0:
            state = transitions.after_failure(state, now, POLICY, "boom")
        else:
            state = transitions.after_success(state, now, POLICY) or state
        if state.state == "open":
            break
    assert state.state == "open"
    # it opens on a failure: the fifth call, the third failure (60% of 5, minimum 4 calls)
    assert state.window_calls == 5
    assert state.window_failures == 3
    assert state.consecutive_failures == 1
    assert "3 of 5 calls failed in 60 s" in state.reason


def test_a_failure_after_the_window_has_passed_starts_a_new_window() -> None:
    state = transitions.after_failure(transitions.closed("cloud", None, "m"), NOW, POLICY, "x")
    state = transitions.after_success(state, NOW + 1, POLICY) or state
    later = transitions.after_failure(state, NOW + 120, POLICY, "y")
    assert (later.window_started_at, later.window_calls, later.window_failures) == (NOW + 120, 1, 1)
    assert later.state == "closed"


# -- the router ----------------------------------------------------------------------------------


def test_the_router_lists_a_place_behind_an_open_breaker_as_removed_by_it() -> None:
    guards, breakers, node, clock = failing_guard()
    for _ in range(3):
        with pytest.raises(TierUnavailable):
            attempt(guards, node)
    nodes = [node_status("mec-a", hot_models=[EDGE_SMALL]), node_status("mec-b")]
    ctx = context({"privacy": "strict"})
    resources = snapshot(nodes).model_copy(update={"breakers": breakers.not_closed()})

    decision = router.route(ctx, resources, CriterionWeights())

    removed = [r for r in decision.rejected if r.constraint == "breaker"]
    assert [r.candidate for r in removed] == [f"mec/mec-a/{EDGE_SMALL}"]
    assert "breaker open, retry in 30.0 s" in removed[0].detail
    assert "breaker 1" in decision.reason
    assert all(c.label != f"mec/mec-a/{EDGE_SMALL}" for c in decision.candidates)

    # After the cooldown the place is admitted again, first, for its one probe
    clock.now += 30.0
    resources = snapshot(nodes).model_copy(update={"breakers": breakers.not_closed()})
    decision = router.route(ctx, resources, CriterionWeights())
    assert not [r for r in decision.rejected if r.constraint == "breaker"]
    assert decision.primary is not None
    assert decision.primary.label == f"mec/mec-a/{EDGE_SMALL}"
    assert len(decision.candidates) > 1  # the fallbacks stay behind it


def test_a_half_open_place_goes_first_even_when_its_score_is_lower() -> None:
    guards, breakers, node, clock = failing_guard()
    slow = candidate("mec", EDGE_SMALL, node_id="mec-b", placement="hot")
    for _ in range(3):
        with pytest.raises(TierUnavailable):
            attempt(guards, node, slow)
    clock.now += 30.0
    # mec-b is the slower, busier node: without its probe the router would pick mec-a
    busy = {"speed_factor": 0.5, "utilisation": 0.9}
    nodes = [
        node_status("mec-a", hot_models=[EDGE_SMALL]),
        node_status("mec-b", hot_models=[EDGE_SMALL], **busy),
    ]
    ctx = context({"privacy": "strict"})
    plain = router.route(ctx, snapshot(nodes), CriterionWeights())
    assert plain.primary is not None
    assert plain.primary.node_id == "mec-a"
    resources = snapshot(nodes).model_copy(update={"breakers": breakers.not_closed()})

    decision = router.route(ctx, resources, CriterionWeights())

    assert decision.primary is not None
    assert decision.primary.label == f"mec/mec-b/{EDGE_SMALL}"
    assert decision.candidates[1].node_id == "mec-a"


# -- the learning loop ---------------------------------------------------------------------------


@dataclass
class Stats:
    items: dict[str, TierStat] = field(default_factory=dict)

    def get(self, key: str) -> TierStat | None:
        return self.items.get(key)

    def put_if_unchanged(self, key: str, stat: TierStat, expected: int | None) -> bool:
        self.items[key] = stat
        return True

    def get_overhead(self, path: str) -> None:
        return None

    def put_overhead_if_unchanged(self, overhead: object, expected: int | None) -> bool:
        return True


@pytest.mark.parametrize(("error", "learned"), [("CircuitOpen", False), ("TierUnavailable", True)])
def test_the_learning_loop_does_not_count_a_breakers_refusal_as_the_place_failing(
    error: str, learned: bool
) -> None:
    stats = Stats()
    event = OutcomeEvent(
        event_id="r:0", request_id="r", tier="mec", node_id="mec-a", model_id=EDGE_SMALL,
        success=False, latency_ms=None, at=NOW, error=error,
    )  # fmt: skip
    aggregator.apply(event, stats)  # type: ignore[arg-type]
    assert bool(stats.items) is learned
