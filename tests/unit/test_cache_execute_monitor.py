"""Cache, execute and monitor agents against in-memory fakes of their ports."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from mecroute.adapters.memory import (
    MemoryDecisionLog,
    MemoryMetricsStream,
    MemoryRegistry,
    MemoryResponseCache,
)
from mecroute.adapters.onnx_engine import Inference
from mecroute.adapters.ports import CloudAnswer, CloudCall, NodeAnswer, NodeCall, NodeHealth
from mecroute.adapters.verified_models import VerifiedModels
from mecroute.agents import cache, execute, monitor
from mecroute.domain.errors import (
    DeadlineExceeded,
    ModelIntegrityError,
    StoreUnavailable,
    TierUnavailable,
)
from mecroute.domain.messages import (
    AttemptFailure,
    CachePlan,
    Candidate,
    ContextAnalysis,
    ExecutionResult,
    MonitorRecord,
    Timing,
)
from mecroute.domain.request import DEFAULT_MAX_TOKENS
from mecroute.domain.tasks import (
    AttemptFailedTask,
    Attempts,
    FailedTask,
    RejectedTask,
    RequestSummary,
    StepFunctionsError,
    SucceededTask,
    UnrecordedTask,
)

from .builders import (
    CLOUD_MODEL,
    DEVICE_MODEL,
    EDGE_LARGE,
    EDGE_SMALL,
    NOW,
    candidate,
    context,
    decision,
    execution_result,
    node_answer,
    zoo_specs,
)

# -- fakes ---------------------------------------------------------------------------------------


@dataclass
class FakeMecNodes:
    """Records every call; `fail` makes every call raise TierUnavailable."""

    fail: bool = False
    loads: list[tuple[str, str, str, str]] = field(default_factory=list)
    infers: list[tuple[str, str, str, int, float]] = field(default_factory=list)
    limits: list[int] = field(default_factory=list)

    def health(self, endpoint: str, node_id: str) -> NodeHealth:
        return NodeHealth(in_flight=0, queue_depth=0, slots=4, hot_models=[])

    def infer(self, endpoint: str, node_id: str, call: NodeCall) -> NodeAnswer:
        if self.fail:
            raise TierUnavailable(f"{endpoint} is down")
        self.infers.append(
            (endpoint, call.model_id, call.prompt, call.output_tokens, call.timeout_s)
        )
        self.limits.append(call.max_tokens)
        return node_answer(f"answer from {call.model_id}", compute_ms=42.0)

    def load(
        self, endpoint: str, node_id: str, model_id: str, artifact_key: str, sha256: str
    ) -> None:
        if self.fail:
            raise TierUnavailable(f"{endpoint} is down")
        self.loads.append((endpoint, model_id, artifact_key, sha256))


@dataclass
class SpyResponseCache(MemoryResponseCache):
    lookups: list[str] = field(default_factory=list)

    def get(self, key: str, now: float) -> ExecutionResult | None:
        self.lookups.append(key)
        return super().get(key, now)


@dataclass
class SpyDecisionLog(MemoryDecisionLog):
    puts: list[MonitorRecord] = field(default_factory=list)

    def put(self, record: MonitorRecord) -> None:
        self.puts.append(record)
        super().put(record)


@dataclass
class FakeCloud:
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    timeouts: list[float | None] = field(default_factory=list)

    def converse(self, call: CloudCall) -> CloudAnswer:
        self.calls.append((call.model_id, call.prompt, call.max_tokens))
        self.timeouts.append(call.timeout_s)
        return CloudAnswer(
            output="cloud says hi", input_tokens=1000, output_tokens=1000, latency_ms=500.0
        )


class FakeOnnxModel:
    def run(self, prompt: str) -> Inference:
        return Inference(output=f"device label for {len(prompt)} chars", compute_ms=1.0)


class FakeLocalModels:
    def get(self, model: Any) -> FakeOnnxModel:
        return FakeOnnxModel()


@dataclass
class BytesArtifacts:
    blobs: dict[str, bytes] = field(default_factory=dict)

    def get(self, key: str) -> bytes:
        return self.blobs[key]


SPECS = {spec.model_id: spec for spec in zoo_specs()}
WARM = candidate("mec", EDGE_SMALL, placement="warm")


def registry() -> MemoryRegistry:
    return MemoryRegistry(list(SPECS.values()))


def prepare(
    ctx: ContextAnalysis,
    target: Candidate,
    *,
    nodes: FakeMecNodes | None = None,
    responses: MemoryResponseCache | None = None,
    models: MemoryRegistry | None = None,
) -> CachePlan:
    return cache.prepare(
        ctx,
        target,
        models or registry(),
        nodes or FakeMecNodes(),
        responses if responses is not None else MemoryResponseCache(),
        NOW,
    )


def cache_with(
    ctx: ContextAnalysis, model_id: str, expires_at: float = NOW + 60
) -> SpyResponseCache:
    responses = SpyResponseCache()
    result = execution_result(ctx.request_id, model_id=model_id)
    responses.put(cache.cache_key(ctx, model_id), result, expires_at)
    return responses


# -- cache agent ---------------------------------------------------------------------------------


def test_cached_response_is_a_cache_hit_without_loading() -> None:
    # Given the response cache already answered this prompt on this model
    ctx = context()
    responses = cache_with(ctx, EDGE_SMALL)
    nodes = FakeMecNodes()

    # When the cache agent prepares the warm target
    plan = prepare(ctx, WARM, nodes=nodes, responses=responses)

    # Then it answers from the cache and loads nothing
    assert plan.action == "cache_hit"
    assert plan.cached is not None
    assert plan.cached.model_id == EDGE_SMALL
    assert nodes.loads == []


def test_cache_is_per_model() -> None:
    ctx = context()

    plan = prepare(ctx, WARM, responses=cache_with(ctx, EDGE_LARGE))

    assert plan.action == "loaded"


def test_cache_is_per_prompt() -> None:
    responses = cache_with(context({"prompt": "first prompt"}), EDGE_SMALL)

    plan = prepare(context({"prompt": "second prompt"}), WARM, responses=responses)

    assert plan.action != "cache_hit"


def test_cache_is_per_answer_limit_and_temperature() -> None:
    responses = cache_with(context({"max_tokens": 3}), EDGE_SMALL)

    assert prepare(context(), WARM, responses=responses).action != "cache_hit"
    assert prepare(context({"max_tokens": 3, "temperature": 1.0}), WARM,
                   responses=responses).action != "cache_hit"  # fmt: skip
    assert prepare(context({"max_tokens": 3}), WARM, responses=responses).action == "cache_hit"


def test_expired_cache_entry_is_not_a_hit() -> None:
    ctx = context()

    plan = prepare(ctx, WARM, responses=cache_with(ctx, EDGE_SMALL, expires_at=NOW - 1))

    assert plan.action == "loaded"


@pytest.mark.parametrize(
    ("request_fields", "analysis"),
    [
        pytest.param({"privacy": "strict"}, {}, id="strict privacy"),
        pytest.param(
            {}, {"personal_data": ["email"], "effective_privacy": "regional"}, id="personal data"
        ),
        # Personal data alone is enough, whatever privacy the request asked for.
        pytest.param(
            {}, {"personal_data": ["phone"], "effective_privacy": "none"}, id="personal data alone"
        ),
    ],
)
def test_private_request_never_consults_the_cache(
    request_fields: dict[str, Any], analysis: dict[str, Any]
) -> None:
    ctx = context(request_fields, **analysis)
    responses = cache_with(ctx, EDGE_SMALL)

    plan = prepare(ctx, WARM, responses=responses)

    assert responses.lookups == []
    assert plan.action != "cache_hit"


def test_warm_mec_target_is_loaded_and_becomes_hot() -> None:
    nodes = FakeMecNodes()
    spec = SPECS[EDGE_SMALL]

    plan = prepare(context(), WARM, nodes=nodes)

    assert nodes.loads == [(WARM.endpoint, EDGE_SMALL, spec.artifact_key, spec.sha256)]
    assert (plan.placement, plan.action) == ("hot", "loaded")
    assert plan.load_ms >= 0
    assert plan.target == WARM


@pytest.mark.parametrize(
    "target",
    [
        candidate("mec", EDGE_SMALL, placement="hot"),
        candidate("device", DEVICE_MODEL, placement="device"),
        candidate("cloud", CLOUD_MODEL, placement="cold"),
    ],
    ids=["hot-mec", "device", "cloud"],
)
def test_targets_that_need_no_loading_are_left_alone(target: Candidate) -> None:
    nodes = FakeMecNodes()

    plan = prepare(context(), target, nodes=nodes)

    assert nodes.loads == []
    assert (plan.action, plan.placement) == ("none", target.placement)


def test_unknown_model_raises_tier_unavailable() -> None:
    target = candidate("mec", "no-such-model", placement="warm")

    with pytest.raises(TierUnavailable, match="no-such-model"):
        prepare(context(), target)


def test_warm_target_without_endpoint_raises_tier_unavailable() -> None:
    target = WARM.model_copy(update={"endpoint": None})

    with pytest.raises(TierUnavailable):
        prepare(context(), target)


def test_failed_load_raises_tier_unavailable() -> None:
    with pytest.raises(TierUnavailable):
        prepare(context(), WARM, nodes=FakeMecNodes(fail=True))


# -- execute agent -------------------------------------------------------------------------------


def tiers(
    nodes: FakeMecNodes | None = None,
    responses: MemoryResponseCache | None = None,
    cloud: FakeCloud | None = None,
) -> execute.Tiers:
    return execute.Tiers(
        registry=registry(),
        nodes=nodes or FakeMecNodes(),
        cloud=cloud or FakeCloud(),
        local_models=FakeLocalModels(),  # type: ignore[arg-type]
        responses=responses if responses is not None else MemoryResponseCache(),
        cloud_backhaul_ms=60.0,
        response_ttl_s=600.0,
    )


def plan_for(target: Candidate, **fields: Any) -> CachePlan:
    return CachePlan(
        request_id="req-1", target=target, placement=target.placement, action="none", **fields
    )


def test_mec_execution_calls_the_node_and_reports_its_compute() -> None:
    nodes = FakeMecNodes()
    ctx = context({"sla": {"max_latency_ms": 2000}})
    target = candidate("mec", EDGE_SMALL, placement="hot", network_ms=30.0)

    result = execute.execute(ctx, target, plan_for(target), tiers(nodes=nodes), NOW)

    ((endpoint, model_id, prompt, output_tokens, timeout_s),) = nodes.infers
    assert (endpoint, model_id, prompt) == (target.endpoint, EDGE_SMALL, ctx.request.prompt)
    assert output_tokens == ctx.output_tokens
    # Predicted 120 ms: a node silent for 0.5 s (the floor) is hung, and 1.5 s are left for
    # a fallback.
    assert timeout_s == 0.5
    assert (result.tier, result.node_id, result.model_id) == ("mec", "mec-a", EDGE_SMALL)
    assert result.compute_ms == 42.0
    assert result.latency_ms >= 30.0
    assert result.from_cache is False


def test_cloud_execution_is_priced_from_the_tokens_it_used() -> None:
    target = candidate("cloud", CLOUD_MODEL, placement="cold", network_ms=100.0)
    spec = SPECS[CLOUD_MODEL]

    result = execute.execute(context(), target, plan_for(target), tiers(), NOW)

    assert result.tier == "cloud"
    assert result.cost_usd == pytest.approx(
        spec.price_per_1k_input_usd + spec.price_per_1k_output_usd
    )
    assert result.latency_ms == pytest.approx(600.0)


def test_bedrock_gets_the_callers_max_tokens_not_the_routers_estimate() -> None:
    cloud = FakeCloud()
    target = candidate("cloud", CLOUD_MODEL, placement="cold")
    limited, unlimited = context({"max_tokens": 700}), context()

    execute.execute(limited, target, plan_for(target), tiers(cloud=cloud), NOW)
    execute.execute(unlimited, target, plan_for(target), tiers(cloud=cloud), NOW)

    assert [max_tokens for _, _, max_tokens in cloud.calls] == [700, DEFAULT_MAX_TOKENS]
    assert limited.output_tokens == 64  # the router's estimate stays what it was


def test_mec_execution_passes_the_limit_and_prices_the_tokens_the_node_reports() -> None:
    nodes = FakeMecNodes()
    target = candidate("mec", EDGE_LARGE, placement="hot")
    spec = SPECS[EDGE_LARGE]

    result = execute.execute(
        context({"max_tokens": 9}), target, plan_for(target), tiers(nodes=nodes), NOW
    )

    assert nodes.limits == [9]
    assert (result.input_tokens, result.output_tokens) == (5, 7)
    assert result.cost_usd == pytest.approx(
        (5 * spec.price_per_1k_input_usd + 7 * spec.price_per_1k_output_usd) / 1000
    )


def test_device_directive_says_which_model_and_how_many_tokens() -> None:
    target = candidate("device", DEVICE_MODEL, placement="device")

    result = execute.execute(context({"max_tokens": 5}), target, plan_for(target), tiers(), NOW)

    assert result.device_directive is not None
    assert (result.device_directive.model_id, result.device_directive.max_tokens) == (
        DEVICE_MODEL,
        5,
    )
    assert result.output_tokens <= 5
    assert DEVICE_MODEL in result.output


def test_device_execution_returns_a_directive_to_fetch_the_model() -> None:
    target = candidate("device", DEVICE_MODEL, placement="device")
    spec = SPECS[DEVICE_MODEL]

    result = execute.execute(context(), target, plan_for(target), tiers(), NOW)

    assert result.tier == "device"
    assert result.cost_usd == 0.0
    assert result.device_directive is not None
    assert result.device_directive.artifact_key == spec.artifact_key
    assert result.device_directive.sha256 == spec.sha256
    assert result.device_directive.installed is False


def test_cached_plan_is_answered_without_running_anything() -> None:
    nodes, cloud = FakeMecNodes(), FakeCloud()
    ctx = context({"network": {"rtt_ms": 15}}, request_id="req-2")
    cached = execution_result("req-1", cost_usd=0.002)

    result = execute.execute(
        ctx, WARM, plan_for(WARM, cached=cached), tiers(nodes=nodes, cloud=cloud), NOW
    )

    assert nodes.infers == []
    assert cloud.calls == []
    assert result.from_cache is True
    assert result.request_id == "req-2"
    assert result.cost_usd == 0.0
    assert result.latency_ms == pytest.approx(75.0)
    assert result.output == cached.output


def test_result_is_cached_for_the_next_identical_request() -> None:
    responses = MemoryResponseCache()
    ctx = context()
    target = candidate("mec", EDGE_SMALL, placement="hot")

    result = execute.execute(ctx, target, plan_for(target), tiers(responses=responses), NOW)

    assert responses.get(cache.cache_key(ctx, EDGE_SMALL), NOW + 1) == result
    assert responses.get(cache.cache_key(ctx, EDGE_SMALL), NOW + 601) is None


def test_private_result_is_never_cached() -> None:
    responses = MemoryResponseCache()
    target = candidate("mec", EDGE_SMALL, placement="hot")

    execute.execute(
        context({"privacy": "strict"}), target, plan_for(target), tiers(responses=responses), NOW
    )

    assert responses.entries == {}


def test_an_attempt_waits_only_for_the_time_left_before_the_deadline() -> None:
    """The issue's case: a 16,000-character prompt, SLA 3 s, the primary node predicted at
    1.65 s. The attempt starting 0.4 s after arrival may wait 2.6 s, not half the SLA."""
    nodes = FakeMecNodes()
    ctx = context({"sla": {"max_latency_ms": 3000}})
    target = candidate("mec", EDGE_SMALL, placement="hot", predicted_latency_ms=1650.0)

    execute.execute(ctx, target, plan_for(target), tiers(nodes=nodes), NOW + 0.4)

    ((*_, timeout_s),) = nodes.infers
    assert timeout_s == pytest.approx(2.6)


def test_bedrock_is_given_the_time_left_before_the_deadline() -> None:
    cloud = FakeCloud()
    ctx = context({"sla": {"max_latency_ms": 3000}})
    target = candidate("cloud", CLOUD_MODEL, placement="cold", predicted_latency_ms=900.0)

    execute.execute(ctx, target, plan_for(target), tiers(cloud=cloud), NOW + 0.4)

    assert cloud.timeouts == [pytest.approx(2.6)]


@pytest.mark.parametrize(("predicted_ms", "timeout_s"), [(400.0, 1.2), (900.0, 2.7), (2000.0, 2.9)])
def test_a_node_is_given_three_times_its_predicted_time_within_the_time_left(
    predicted_ms: float, timeout_s: float
) -> None:
    nodes = FakeMecNodes()
    ctx = context({"sla": {"max_latency_ms": 3000}})
    target = candidate("mec", EDGE_SMALL, placement="hot", predicted_latency_ms=predicted_ms)

    execute.execute(ctx, target, plan_for(target), tiers(nodes=nodes), NOW + 0.1)

    ((*_, waited_s),) = nodes.infers
    assert waited_s == pytest.approx(timeout_s)


@pytest.mark.parametrize("tier", ["mec", "cloud", "device"])
def test_an_attempt_that_cannot_finish_before_the_deadline_is_not_started(tier: str) -> None:
    """A fallback predicted at 2.46 s after a primary that used 1.5 s of a 3 s SLA."""
    nodes, cloud = FakeMecNodes(), FakeCloud()
    model = {"mec": EDGE_LARGE, "cloud": CLOUD_MODEL, "device": DEVICE_MODEL}[tier]
    target = candidate(tier, model, placement="hot", predicted_latency_ms=2460.0)
    ctx = context({"sla": {"max_latency_ms": 3000}})

    with pytest.raises(DeadlineExceeded, match="predicted 2460 ms, 1500 ms left"):
        execute.execute(ctx, target, plan_for(target), tiers(nodes=nodes, cloud=cloud), NOW + 1.5)

    assert nodes.infers == []
    assert cloud.calls == []


def test_the_routing_path_already_travelled_is_not_charged_to_the_attempt() -> None:
    """The router's prediction includes the routing path; by the time an attempt starts that
    time has passed (it is in the elapsed time), so only the tier's share must fit."""
    nodes = FakeMecNodes()
    ctx = context({"sla": {"max_latency_ms": 1000}})
    target = candidate("mec", EDGE_SMALL, placement="hot", predicted_latency_ms=700.0)
    target = target.model_copy(update={"routing_overhead_ms": 400.0})

    execute.execute(ctx, target, plan_for(target), tiers(nodes=nodes), NOW + 0.6)

    assert len(nodes.infers) == 1


def test_a_node_that_answers_after_the_deadline_is_a_missed_deadline() -> None:
    @dataclass
    class HangingNodes(FakeMecNodes):
        def infer(self, endpoint: str, node_id: str, call: NodeCall) -> NodeAnswer:
            time.sleep(call.timeout_s)  # what a read timeout does
            raise TierUnavailable(f"{endpoint}: read timed out after {call.timeout_s} s")

    ctx = context({"sla": {"max_latency_ms": 3000}})
    target = candidate("mec", EDGE_SMALL, placement="hot")
    # The attempt starts with no time left beyond its prediction; the node never answers.
    late_start = NOW + 3.0 - 0.121

    with pytest.raises(DeadlineExceeded, match="no answer before the deadline"):
        execute.execute(ctx, target, plan_for(target), tiers(nodes=HangingNodes()), late_start)


def test_a_cached_answer_is_served_whatever_the_time_left() -> None:
    target = candidate("mec", EDGE_SMALL, placement="hot", predicted_latency_ms=900.0)
    plan = plan_for(target, cached=execution_result("earlier"))

    result = execute.execute(context(), target, plan, tiers(), NOW + 2.9)

    assert result.from_cache is True


def test_execute_unknown_model_raises_tier_unavailable() -> None:
    target = candidate("cloud", "ghost-model", placement="cold")

    with pytest.raises(TierUnavailable, match="ghost-model"):
        execute.execute(context(), target, plan_for(target), tiers(), NOW)


def test_failing_node_raises_tier_unavailable() -> None:
    target = candidate("mec", EDGE_SMALL, placement="hot")

    with pytest.raises(TierUnavailable):
        execute.execute(context(), target, plan_for(target), tiers(FakeMecNodes(fail=True)), NOW)


def test_tampered_artifact_is_refused() -> None:
    spec = SPECS[DEVICE_MODEL].model_copy(update={"sha256": hashlib.sha256(b"good").hexdigest()})
    models = VerifiedModels(BytesArtifacts({spec.artifact_key: b"tampered"}))

    with pytest.raises(ModelIntegrityError):
        models.get(spec)


# -- monitor agent -------------------------------------------------------------------------------


def attempt_failed_task(index: int = 0, failures: list[AttemptFailure] | None = None, **stamps):
    return AttemptFailedTask(
        action="attempt_failed",
        request_id="req-1",
        target=WARM,
        error=StepFunctionsError(Error="TierUnavailable", Cause="x" * 5000),
        attempts=Attempts(index=index, count=3, failures=failures or []),
        **stamps,
    )


def test_attempt_failed_moves_the_cursor_and_keeps_earlier_failures() -> None:
    earlier = AttemptFailure(candidate="device/x", error="TierUnavailable", cause="flat")

    attempts = monitor.attempt_failed(attempt_failed_task(1, [earlier]), NOW)

    assert (attempts.index, attempts.count) == (2, 3)
    assert attempts.failures[0] == earlier
    latest = attempts.failures[1]
    assert latest.candidate == WARM.label
    assert (latest.tier, latest.node_id, latest.model_id) == ("mec", "mec-a", EDGE_SMALL)
    assert latest.error == "TierUnavailable"
    assert len(latest.cause) == 1000


def test_attempt_failed_measures_the_time_the_attempt_cost() -> None:
    task = attempt_failed_task(
        started_at="2026-11-23T07:32:32.534Z", failed_at="2026-11-23T07:32:34.034Z"
    )

    (failure,) = monitor.attempt_failed(task, NOW).failures

    assert failure.elapsed_ms == 1500.0


def succeeded_task(
    latency_ms: float, max_latency_ms: int = 1000, failures: int = 0, failure_ms: float = 0.0
):
    ctx = context({"sla": {"max_latency_ms": max_latency_ms}, "user_id": "alice"})
    return SucceededTask(
        action="succeeded",
        request=RequestSummary.of(ctx),
        decision=decision(WARM),
        result=execution_result(latency_ms=latency_ms),
        failures=[
            AttemptFailure(
                candidate=f"device/m{i}",
                error="TierUnavailable",
                cause="",
                tier="device",
                model_id=f"m{i}",
                elapsed_ms=failure_ms,
            )
            for i in range(failures)
        ],
    )


def test_succeeded_writes_exactly_one_record() -> None:
    log, stream = SpyDecisionLog(), MemoryMetricsStream()

    receipt = monitor.record(succeeded_task(200), log, stream, NOW)

    assert receipt.stored is True
    record = receipt.record
    assert log.puts == [record]
    assert log.get("req-1") == record
    assert record.status == "succeeded"
    assert record.user_id == "alice"
    assert record.error is None
    assert record.recorded_at == NOW


@pytest.mark.parametrize(
    ("latency_ms", "sla_met"), [(200.0, True), (1000.0, True), (1000.5, False), (5000.0, False)]
)
def test_succeeded_judges_the_sla_against_measured_latency(
    latency_ms: float, sla_met: bool
) -> None:
    record = monitor.outcome_record(succeeded_task(latency_ms), NOW)

    assert record.sla_met is sla_met


def test_timing_splits_the_pipeline_wall_time_and_judges_the_sla_end_to_end() -> None:
    # Given a request whose pipeline ran 900 ms of wall time, 40 ms of it computing on a MEC
    # node whose latency (compute plus the modelled network) was 150 ms
    task = succeeded_task(150.0).model_copy(
        update={"started_at": "2026-11-29T10:00:00.000Z", "finished_at": "2026-11-29T10:00:00.900Z"}
    )
    # When the monitor records it
    record = monitor.outcome_record(task, NOW)
    # Then the states' own time is the wall time less the compute, and the caller waited that
    # plus the tier's latency: over the 1000 ms SLA although the tier alone was within it
    assert record.timing == Timing(
        end_to_end_ms=1010.0, routing_overhead_ms=860.0, execution_ms=150.0
    )
    assert record.sla_met is False
    (event,) = monitor.events_for(record)
    assert event.routing_overhead_ms == 860.0


def test_the_gateways_own_measured_time_is_overhead_when_the_compute_was_not_waited_for() -> None:
    # Given: a gateway's request of 30 ms wall time, 12 ms of it in the tier, whose node
    # reports 40 ms of modelled compute it did not wait for (time scale 0)
    task = succeeded_task(150.0).model_copy(
        update={
            "started_at": "2026-11-29T10:00:00.000Z",
            "finished_at": "2026-11-29T10:00:00.030Z",
            "tiers_wall_ms": 12.0,
        }
    )
    # When the monitor records it
    timing = monitor.outcome_record(task, NOW).timing
    # Then the gateway's own 18 ms are its routing overhead, not 0
    assert timing is not None
    assert timing.routing_overhead_ms == 18.0


def test_without_the_states_timestamps_there_is_no_timing() -> None:
    record = monitor.outcome_record(succeeded_task(150.0), NOW)

    assert record.timing is None
    assert record.sla_met is True


def test_time_lost_on_failed_attempts_counts_against_the_sla() -> None:
    record = monitor.outcome_record(succeeded_task(200, failures=2, failure_ms=450.0), NOW)

    assert record.sla_met is False  # 200 + 2 x 450 ms > 1000 ms


def test_succeeded_publishes_each_failed_attempt_then_the_outcome() -> None:
    stream = MemoryMetricsStream()

    monitor.record(succeeded_task(200, failures=2), MemoryDecisionLog(), stream, NOW)

    events = [event for key, event in stream.records if key == "req-1"]
    assert [e["event_id"] for e in events] == ["req-1:0", "req-1:1", "req-1:2"]
    assert [(e["success"], e["model_id"]) for e in events[:2]] == [(False, "m0"), (False, "m1")]
    outcome = events[2]
    assert outcome["kind"] == "outcome"
    assert outcome["success"] is True
    assert outcome["latency_ms"] == 200
    assert outcome["fallbacks"] == 2
    assert outcome["from_cache"] is False


def test_a_replayed_result_is_recorded_but_not_learned_twice() -> None:
    task = succeeded_task(200)
    replayed = task.model_copy(
        update={"result": task.result.model_copy(update={"request_id": "earlier-1"})}
    )
    stream = MemoryMetricsStream()

    receipt = monitor.record(replayed, MemoryDecisionLog(), stream, NOW)

    assert monitor.is_replay(receipt.record)
    ((_, event),) = stream.records
    assert (event["kind"], event["replay_of"], event["cost_usd"]) == ("replay", "earlier-1", 0.0)


def failed_task(failures: list[AttemptFailure]) -> FailedTask:
    return FailedTask(
        action="failed",
        error="NoTierAvailable" if failures else "NoFeasibleRoute",
        request=RequestSummary.of(context()),
        decision=decision(None, reason="no feasible candidate: removed by privacy 1"),
        failures=failures,
    )


def test_failed_after_attempts_records_error_and_every_failure() -> None:
    failures = [
        AttemptFailure(candidate="mec/a/m", error="TierUnavailable", cause="down"),
        AttemptFailure(candidate="cloud/c", error="States.Timeout", cause=""),
    ]
    log = SpyDecisionLog()

    record = monitor.record(failed_task(failures), log, MemoryMetricsStream(), NOW).record

    assert log.puts == [record]
    assert record.status == "failed"
    assert record.error == "NoTierAvailable"
    assert record.error_detail == (
        "every candidate failed: mec/a/m: TierUnavailable; cloud/c: States.Timeout"
    )
    assert record.result is None
    assert record.sla_met is False


def test_failed_without_attempts_explains_with_the_routing_reason() -> None:
    stream = MemoryMetricsStream()

    record = monitor.record(failed_task([]), MemoryDecisionLog(), stream, NOW).record

    assert record.error == "NoFeasibleRoute"
    assert record.error_detail == "no feasible candidate: removed by privacy 1"
    assert stream.records[0][1]["kind"] == "failure"


def test_rejected_request_is_recorded_for_an_unknown_user() -> None:
    log, stream = SpyDecisionLog(), MemoryMetricsStream()
    task = RejectedTask(
        action="rejected",
        request_id="bad-1",
        error=StepFunctionsError(Error="InvalidRequest", Cause='{"problems": []}'),
    )

    record = monitor.record(task, log, stream, NOW).record

    assert log.puts == [record]
    assert (record.user_id, record.status, record.error) == ("unknown", "failed", "InvalidRequest")
    assert record.decision is None
    assert record.error_detail == '{"problems": []}'
    assert stream.records[0][1]["kind"] == "rejection"


# -- monitor agent: what cannot be stored is handed back, then redriven ---------------------------


@dataclass
class UnavailableDecisionLog(MemoryDecisionLog):
    """A decisions table that refuses writes until `recover()`."""

    down: bool = True

    def put(self, record: MonitorRecord) -> None:
        if self.down:
            raise StoreUnavailable("decisions table: ProvisionedThroughputExceededException")
        super().put(record)


@dataclass
class RefusingStream(MemoryMetricsStream):
    """A stream that refuses the events whose position is in `refused` (a partial failure)."""

    refused: set[int] = field(default_factory=set)

    def publish_all(
        self, partition_key: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        kept = [r for i, r in enumerate(records) if i not in self.refused]
        for record in kept:
            self.publish(partition_key, record)
        return [r for i, r in enumerate(records) if i in self.refused]


def test_an_unwritable_record_is_handed_back_whole() -> None:
    log, stream = UnavailableDecisionLog(), MemoryMetricsStream()

    receipt = monitor.record(succeeded_task(200), log, stream, NOW)

    assert receipt.stored is False
    assert receipt.unstored is not None
    assert receipt.unstored.record == receipt.record
    assert receipt.unstored.events == []  # the stream took its events
    assert "ProvisionedThroughputExceededException" in receipt.unstored.reason


def test_only_the_refused_stream_events_are_handed_back() -> None:
    log, stream = MemoryDecisionLog(), RefusingStream(refused={1})

    receipt = monitor.record(succeeded_task(200, failures=1), log, stream, NOW)

    assert receipt.unstored is not None
    assert receipt.unstored.record is None  # the decision record was written
    assert [e.event_id for e in receipt.unstored.events] == ["req-1:1"]
    assert log.get("req-1") == receipt.record


def test_redrive_stores_what_was_handed_back_exactly_once() -> None:
    log, stream = UnavailableDecisionLog(), RefusingStream(refused={0})
    receipt = monitor.record(succeeded_task(200), log, stream, NOW)
    assert receipt.unstored is not None
    message = receipt.unstored.model_dump(mode="json")

    log.down, stream.refused = False, set()
    left = monitor.redrive(message, log, stream, NOW + 60)

    assert left is None
    assert log.get("req-1") == receipt.record
    assert [e["event_id"] for _, e in stream.records] == ["req-1:0"]


def test_a_repeated_store_writes_publishes_and_counts_nothing() -> None:
    log, stream = SpyDecisionLog(), MemoryMetricsStream()
    answer = monitor.build_record(succeeded_task(200), NOW)

    first = monitor.store_answered(answer, log, stream)
    repeat = monitor.store_answered(answer, log, stream)  # Lambda delivered the event twice

    assert first is not None
    assert first.stored is True
    assert repeat is None
    assert log.puts == [answer]
    assert [e["event_id"] for _, e in stream.records] == ["req-1:0"]


@dataclass
class RacedDecisionLog(MemoryDecisionLog):
    """A decisions table that another delivery of the same event writes to between this
    delivery's read and its write."""

    other: MonitorRecord | None = None

    def get(self, request_id: str) -> MonitorRecord | None:
        found = super().get(request_id)
        if self.other is not None:
            super().put(self.other)
            self.other = None
        return found


def test_a_store_raced_by_a_concurrent_delivery_keeps_the_first_record() -> None:
    answer = monitor.build_record(succeeded_task(200), NOW)
    first = answer.model_copy(update={"recorded_at": NOW - 1})
    log, stream = RacedDecisionLog(other=first), MemoryMetricsStream()

    receipt = monitor.store_answered(answer, log, stream)

    assert receipt is None  # not counted: the other delivery stored and counted it
    assert log.get("req-1") == first  # the first write stays
    # this delivery's events went out before its write was refused: the same event id,
    # which consumers drop
    assert [e["event_id"] for _, e in stream.records] == ["req-1:0"]


def test_redrive_of_a_record_stored_meanwhile_leaves_it_as_it_is() -> None:
    log = UnavailableDecisionLog()
    receipt = monitor.record(succeeded_task(200), log, MemoryMetricsStream(), NOW)
    assert receipt.unstored is not None
    log.down = False
    log.put(receipt.record.model_copy(update={"recorded_at": NOW + 1}))

    left = monitor.redrive(
        receipt.unstored.model_dump(mode="json"), log, MemoryMetricsStream(), NOW
    )

    assert left is None
    stored = log.get("req-1")
    assert stored is not None
    assert stored.recorded_at == NOW + 1


def test_redrive_records_a_task_the_monitor_never_ran() -> None:
    log, stream = MemoryDecisionLog(), MemoryMetricsStream()
    task = failed_task([])

    left = monitor.redrive({"unrecorded_task": task.model_dump(mode="json")}, log, stream, NOW + 60)

    assert left is None
    stored = log.get("req-1")
    assert stored is not None
    assert stored.error == "NoFeasibleRoute"


def test_a_task_parked_with_its_whole_context_is_summarised_and_redriven() -> None:
    # Given: a task parked before the summary existed (the request context, prompt included)
    ctx = context({"prompt": "my pin is 8812", "user_id": "alice", "privacy": "strict"})
    task = succeeded_task(200).model_dump(mode="json", exclude={"request"})
    old = {"unrecorded_task": {**task, "context": ctx.model_dump(mode="json")}}

    # When: it is read, then redriven
    parked = UnrecordedTask.model_validate(old)
    log = MemoryDecisionLog()
    left = monitor.redrive(old, log, MemoryMetricsStream(), NOW + 60)

    # Then: the prompt is gone, its hash and the caller kept, and the record stored
    assert "8812" not in parked.model_dump_json()
    assert parked.unrecorded_task.request == RequestSummary.of(ctx)  # type: ignore[union-attr]
    assert left is None
    stored = log.get("req-1")
    assert stored is not None
    assert stored.user_id == "alice"


def test_redrive_hands_back_what_is_still_unstorable() -> None:
    log = UnavailableDecisionLog()
    receipt = monitor.record(succeeded_task(200), log, MemoryMetricsStream(), NOW)
    assert receipt.unstored is not None

    left = monitor.redrive(
        receipt.unstored.model_dump(mode="json"), log, MemoryMetricsStream(), NOW
    )

    assert left is not None
    assert left.record == receipt.record
