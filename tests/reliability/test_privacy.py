"""A `strict` request never runs in the cloud, whatever fails (fail closed).

The property runs the resource, router and execute agents in-process with fakes for the MEC
nodes, the device's model store and the cloud, over random requests and random combinations
of faults (nodes down, hung, answering errors, refusing a tampered artifact; the cloud
throttled; even a router that wrongly puts the cloud first), walking the candidates as the
state machine does. A few requests then go end to end through the offline pipeline.
"""

from __future__ import annotations

import dataclasses
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.builders import NOW, context, node_answer, zoo_specs

from mecroute.adapters.memory import MemoryNodes, MemoryRegistry, MemoryResponseCache, MemoryStats
from mecroute.adapters.onnx_engine import Inference
from mecroute.adapters.ports import CloudAnswer, CloudCall, NodeAnswer, NodeCall, NodeHealth
from mecroute.agents import execute, resource, router
from mecroute.domain.errors import ModelIntegrityError, PipelineError, TierUnavailable
from mecroute.domain.messages import CachePlan, Candidate, CloudStatus, CriterionScores
from mecroute.domain.registry import ModelSpec, NodeRecord
from mecroute.domain.request import CriterionWeights
from mecroute.local.fleet import NodeProcess
from mecroute.local.runtime import OfflineRuntime
from mecroute.mec.profiles import DEFAULT_SITES

from .conftest import HARD_PROMPT
from .faults import handler_wrapped, node_request, node_serving

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

NODE_FAULTS = ("none", "down", "hung", "errors", "tampered")


@dataclass
class FaultyNodes:
    """MEC nodes with one fault each (by endpoint)."""

    faults: dict[str, str]
    hot: dict[str, list[str]]

    def health(self, endpoint: str, node_id: str) -> NodeHealth:
        if self.faults[endpoint] == "down":
            raise TierUnavailable(f"GET {endpoint}/health failed: connection refused")
        return NodeHealth(in_flight=0, queue_depth=0, slots=4, hot_models=self.hot[endpoint])

    def infer(self, endpoint: str, node_id: str, call: NodeCall) -> NodeAnswer:
        fault = self.faults[endpoint]
        if fault in ("down", "hung"):
            raise TierUnavailable(f"POST {endpoint}/infer failed: timed out")
        if fault == "errors":
            raise TierUnavailable(f"POST {endpoint}/infer answered 500")
        return node_answer(f"{call.model_id} on {endpoint}", compute_ms=20.0)

    def load(
        self, endpoint: str, node_id: str, model_id: str, artifact_key: str, sha256: str
    ) -> None:
        if self.faults[endpoint] == "tampered":
            raise ModelIntegrityError(f"{artifact_key}: sha256 mismatch")

    def evict(self, endpoint: str, node_id: str, model_id: str) -> None:
        pass


@dataclass
class RecordingCloud:
    throttled: bool
    calls: list[str] = field(default_factory=list)

    def converse(self, call: CloudCall) -> CloudAnswer:
        self.calls.append(call.model_id)
        if self.throttled:
            raise TierUnavailable("Bedrock throttled: ThrottlingException")
        return CloudAnswer(output="cloud answer", input_tokens=10, output_tokens=20, latency_ms=400)


@dataclass
class DeviceModels:
    """The execute agent's device-tier model store; `tampered` refuses every artifact."""

    tampered: bool

    def get(self, model: ModelSpec) -> Any:
        if self.tampered:
            raise ModelIntegrityError(f"{model.artifact_key}: sha256 mismatch")
        return self

    def run(self, prompt: str) -> Inference:
        return Inference(output="device answer", compute_ms=1.0)


def cloud_candidate(model: ModelSpec) -> Candidate:
    """What a buggy router might slip in front of the others (predicted to fit any deadline,
    so that only privacy can stop it)."""
    scores = CriterionScores(latency=1.0, accuracy=1.0, cost=1.0, availability=1.0)
    return Candidate(tier="cloud", model_id=model.model_id, placement="cold",
                     predicted_latency_ms=5.0, network_ms=1.0, predicted_accuracy=0.9,
                     predicted_cost_usd=0.001, scores=scores, score=1.0)  # fmt: skip


requests = st.fixed_dictionaries(
    {
        "prompt": st.sampled_from(
            [
                "What is the capital of France?",
                HARD_PROMPT,
                "Email jane.doe@example.com the summary of my card 4111 1111 1111 1111",
                "Translate 'good morning' into French",
            ]
        ),
        "privacy": st.sampled_from(["strict", "strict", "regional", "none"]),
    },
    optional={
        "sla": st.fixed_dictionaries(
            {},
            optional={
                "max_latency_ms": st.integers(10, 20_000),
                "min_accuracy": st.floats(0, 1),
                "max_cost_usd": st.floats(0, 10),
            },
        ),
        "weights": st.sampled_from(
            [
                {"latency": 0.0, "accuracy": 1.0, "cost": 0.0, "availability": 0.0},
                {"latency": 1.0, "accuracy": 0.0, "cost": 0.0, "availability": 0.0},
                {"latency": 0.1, "accuracy": 0.1, "cost": 0.0, "availability": 0.8},
            ]
        ),
        "model_preference": st.sampled_from([m.model_id for m in zoo_specs()]),
        "device": st.fixed_dictionaries(
            {},
            optional={
                "region": st.sampled_from(["us-east-1", "eu-west-1"]),
                "battery_pct": st.floats(0, 100),
                "installed_models": st.just(["tinytext-device-v1"]),
            },
        ),
    },
)
faults = st.fixed_dictionaries(
    {
        "nodes": st.lists(st.sampled_from(NODE_FAULTS), min_size=3, max_size=3),
        "cloud_throttled": st.booleans(),
        "device_tampered": st.booleans(),
        "router_puts_cloud_first": st.booleans(),
    }
)
PROPERTY_CASES = 300


@settings(max_examples=PROPERTY_CASES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(request=requests, injected=faults)
def test_a_strict_request_never_runs_in_the_cloud_whatever_fails(
    request: dict[str, Any], injected: dict[str, Any]
) -> None:
    # Given: the three sites as nodes, each with its fault; the cloud and the device's
    # model store with theirs
    specs = zoo_specs()
    records, node_faults, hot = [], {}, {}
    for site, fault in zip(DEFAULT_SITES, injected["nodes"], strict=True):
        endpoint = f"http://127.0.0.1:9/{site.node_id}"
        records.append(NodeRecord(node_id=site.node_id, site=site.site, endpoint=endpoint,
                                  region="us-east-1", slots=site.slots, heartbeat_at=NOW,
                                  hot_models=list(site.preload)))  # fmt: skip
        node_faults[endpoint], hot[endpoint] = fault, list(site.preload)
    nodes = FaultyNodes(node_faults, hot)
    cloud = RecordingCloud(throttled=injected["cloud_throttled"])
    tiers = execute.Tiers(
        registry=MemoryRegistry(specs), nodes=nodes, cloud=cloud,
        local_models=DeviceModels(injected["device_tampered"]),  # type: ignore[arg-type]
        responses=MemoryResponseCache(), cloud_backhaul_ms=60.0, response_ttl_s=600.0,
    )  # fmt: skip
    analysed = context(request)

    # When: resources are assessed, the request routed, and each candidate tried in turn
    snapshot = resource.assess(
        MemoryRegistry(specs), MemoryNodes(records), nodes, MemoryStats(),
        CloudStatus(available=True, provider="simulator", region="us-east-1",
                    backhaul_rtt_ms=60.0),
        NOW, 30.0,
    )  # fmt: skip
    decision = router.route(analysed, snapshot, CriterionWeights())
    candidates = list(decision.candidates)
    if injected["router_puts_cloud_first"]:
        candidates.insert(0, cloud_candidate(next(m for m in specs if "cloud" in m.tiers)))
    answered_by = None
    for target in candidates:
        plan = CachePlan(request_id="req-1", target=target, placement=target.placement,
                         action="none")  # fmt: skip
        try:
            answered_by = execute.execute(analysed, target, plan, tiers, NOW).tier
            break
        except PipelineError:
            continue

    # Then
    if analysed.effective_privacy == "strict":
        assert all(c.tier != "cloud" for c in decision.candidates)
        assert cloud.calls == []
        assert answered_by != "cloud"
    elif injected["router_puts_cloud_first"]:
        # The control: without strict privacy the same cloud candidate is really called.
        assert cloud.calls


# -- end to end -----------------------------------------------------------------------------------


@dataclass
class CountingCloud:
    real: Any
    calls: int = 0

    def converse(self, call: CloudCall) -> CloudAnswer:
        self.calls += 1
        answer: CloudAnswer = self.real.converse(call)
        return answer


@contextmanager
def cloud_counted(runtime: OfflineRuntime) -> Iterator[CountingCloud]:
    assert runtime.lambdas is not None
    module = sys.modules[runtime.lambdas.handlers["execute"].__module__]
    real_tiers = module.tiers
    counting = CountingCloud(real_tiers.cloud)
    module.tiers = dataclasses.replace(real_tiers, cloud=counting)
    try:
        yield counting
    finally:
        module.tiers = real_tiers


@contextmanager
def every_mec_attempt_failing(runtime: OfflineRuntime) -> Iterator[list[str]]:
    """Each MEC target's model is evicted just before it runs: every MEC attempt fails."""
    evicted: list[tuple[NodeProcess, str]] = []

    def wrap(real: Any) -> Any:
        def run(event: dict[str, Any], context: Any) -> Any:
            target = event["target"]
            if target["tier"] == "mec":
                node = node_serving(runtime, target["endpoint"])
                node_request(node, "DELETE", f"/models/{target['model_id']}")
                evicted.append((node, target["model_id"]))
            return real(event, context)

        return run

    try:
        with handler_wrapped(runtime, "execute", wrap):
            yield [model for _, model in evicted]
    finally:
        for node, model in evicted:
            node_request(node, "POST", f"/models/{model}/load")


ACCURACY_FIRST = {"latency": 0.0, "accuracy": 1.0, "cost": 0.0, "availability": 0.0}


@pytest.mark.parametrize(
    "request_fields",
    [
        {"weights": ACCURACY_FIRST},
        {"model_preference": "cloud-frontier-v1"},
        {"sla": {"min_accuracy": 0.8}, "weights": ACCURACY_FIRST},
    ],
    ids=["cloud-ranked-first", "cloud-model-preferred", "only-the-cloud-accurate-enough"],
)
def test_strict_requests_end_to_end_fail_closed_when_the_edge_fails(
    runtime: OfflineRuntime, request_fields: dict[str, Any]
) -> None:
    request = {"prompt": f"{HARD_PROMPT} ({uuid.uuid4()})", "privacy": "strict", **request_fields}

    with cloud_counted(runtime) as cloud, every_mec_attempt_failing(runtime):
        run = runtime.run(request)

    assert cloud.calls == 0
    record = run.output or run.record
    assert record is not None
    if run.status == "SUCCEEDED":
        assert record["result"]["tier"] == "device"
    else:
        assert run.error in {"NoFeasibleRoute", "NoTierAvailable"}
    assert all(c["tier"] != "cloud" for c in (record["decision"] or {}).get("candidates", []))
