"""Execute agent: run the request on the chosen tier and measure what it took."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from mecroute.adapters.ports import (
    CloudAnswer,
    CloudCall,
    CloudModel,
    MecNodes,
    ModelRegistry,
    NodeAnswer,
    NodeCall,
    ResponseCache,
)
from mecroute.adapters.verified_models import VerifiedModels
from mecroute.agents.cache import cache_key, cacheable
from mecroute.domain.errors import DeadlineExceeded, PrivacyViolation, TierUnavailable
from mecroute.domain.estimates import compute_time_ms, cost_usd, device_fetch_ms, device_speed
from mecroute.domain.messages import (
    CachePlan,
    Candidate,
    ContextAnalysis,
    DeviceDirective,
    ExecutionResult,
)
from mecroute.domain.registry import ModelSpec
from mecroute.domain.synthetic_text import generate


@dataclass(frozen=True)
class Tiers:
    registry: ModelRegistry
    nodes: MecNodes
    cloud: CloudModel
    local_models: VerifiedModels
    responses: ResponseCache
    cloud_backhaul_ms: float
    response_ttl_s: float
    # Time an attempt may run past the deadline (settings.ExecuteSettings.deadline_grace_ms).
    deadline_grace_s: float = 0.0


# A node is given up on once an attempt took this many times its predicted time (a lognormal
# latency with the router's default spread passes 3x its median about once in a thousand):
# it is hung or far slower than believed, and the time left may still serve a fallback...
HUNG_AFTER_PREDICTED = 3.0
# ...but never sooner than this, a loaded node (or test machine) being merely busy; and never
# later than the deadline.
NODE_TIMEOUT_FLOOR_S = 0.5


def execute(
    context: ContextAnalysis, target: Candidate, plan: CachePlan, tiers: Tiers, now: float
) -> ExecutionResult:
    """Run the attempt within the time left before the request's deadline; an attempt whose
    predicted time does not fit is not started (DeadlineExceeded: the next candidate may)."""
    refuse_forbidden_tier(context, target)
    if plan.cached is not None:
        return plan.cached.model_copy(
            update={
                "request_id": context.request_id,
                "from_cache": True,
                "latency_ms": round(context.request.network.rtt_ms + tiers.cloud_backhaul_ms, 3),
                "compute_ms": 0.0,  # nothing ran: the routing overhead is all the time spent
                "cost_usd": 0.0,
            }
        )
    left_s = time_left_s(context, target, now - tiers.deadline_grace_s)
    model = next((m for m in tiers.registry.list_models() if m.model_id == target.model_id), None)
    if model is None:
        raise TierUnavailable(f"{target.label}: model {target.model_id} is not in the registry")
    if target.tier == "mec":
        result = _on_mec(context, target, model, tiers, plan, left_s)
    elif target.tier == "cloud":
        result = _in_cloud(context, target, model, tiers.cloud, left_s)
    else:
        # The device run is the client's own: only an attempt that fits is started.
        result = _on_device(context, target, model, tiers, plan)
    if cacheable(context):
        tiers.responses.put(cache_key(context, model.model_id), result, now + tiers.response_ttl_s)
    return result


def refuse_forbidden_tier(context: ContextAnalysis, target: Candidate) -> None:
    """A `strict` request never leaves device or MEC: checked here again, whatever the router
    decided, before anything is sent anywhere (fail closed)."""
    if target.tier == "cloud" and context.effective_privacy == "strict":
        raise PrivacyViolation(f"{target.label}: a strict request never runs in the cloud")


def time_left_s(context: ContextAnalysis, target: Candidate, now: float) -> float:
    """Seconds until the deadline, which bound the attempt; DeadlineExceeded when the tier's
    predicted time (the router's, its routing-path share taken off: that time has passed)
    does not fit in them."""
    left_ms = (context.deadline_at - now) * 1000
    needed_ms = target.predicted_latency_ms - target.routing_overhead_ms
    if needed_ms > left_ms:
        raise DeadlineExceeded(
            f"{target.label}: predicted {needed_ms:.0f} ms, {max(0.0, left_ms):.0f} ms left "
            f"before the {context.request.sla.max_latency_ms} ms deadline; not started"
        )
    return left_ms / 1000


def node_timeout_s(target: Candidate, left_s: float) -> float:
    """How long to wait for a MEC node: a hung node is given up on while a fallback may still
    answer in time; a slow one is waited for as long as the deadline allows."""
    predicted_s = (target.predicted_latency_ms - target.routing_overhead_ms) / 1000
    return min(left_s, max(NODE_TIMEOUT_FLOOR_S, HUNG_AFTER_PREDICTED * predicted_s))


def _cost(model: ModelSpec, input_tokens: int, output_tokens: int) -> float:
    """From the tokens the serving model reports having read and written."""
    return round(cost_usd(model, input_tokens, output_tokens), 8)


def _served(
    context: ContextAnalysis,
    model: ModelSpec,
    answer: NodeAnswer | CloudAnswer,
    *,
    tier: Literal["mec", "cloud"],
    node_id: str | None,
    latency_ms: float,
    compute_ms: float,
) -> ExecutionResult:
    """The result of a run on a remote tier, from the answer its server gave."""
    return ExecutionResult(
        request_id=context.request_id,
        tier=tier,
        node_id=node_id,
        model_id=model.model_id,
        output=answer.output,
        latency_ms=latency_ms,
        compute_ms=compute_ms,
        cost_usd=_cost(model, answer.input_tokens, answer.output_tokens),
        input_tokens=answer.input_tokens,
        output_tokens=answer.output_tokens,
        finish_reason=answer.finish_reason,
    )


def _on_mec(
    context: ContextAnalysis,
    target: Candidate,
    model: ModelSpec,
    tiers: Tiers,
    plan: CachePlan,
    left_s: float,
) -> ExecutionResult:
    if not target.endpoint:
        raise TierUnavailable(f"{target.label}: no endpoint")
    started = time.perf_counter()
    call = NodeCall(
        model_id=model.model_id,
        prompt=context.request.prompt,
        output_tokens=context.output_tokens,
        max_tokens=context.request.answer_limit,
        timeout_s=node_timeout_s(target, left_s),
    )
    with _by_the_deadline(target, left_s):
        answer = tiers.nodes.infer(target.endpoint, target.node_id or "", call)
    served_ms = (time.perf_counter() - started) * 1000
    return _served(
        context,
        model,
        answer,
        tier="mec",
        node_id=target.node_id,
        # Loopback has no radio: the network share is the router's model from the telemetry.
        latency_ms=round(target.network_ms + served_ms + plan.load_ms, 3),
        compute_ms=answer.compute_ms,
    )


@contextmanager
def _by_the_deadline(target: Candidate, left_s: float) -> Iterator[None]:
    """A tier that failed once the time left was spent was cut off by the deadline."""
    started = time.perf_counter()
    try:
        yield
    except TierUnavailable as error:
        if time.perf_counter() - started >= left_s:
            raise DeadlineExceeded(
                f"{target.label}: no answer before the deadline ({left_s * 1000:.0f} ms left)"
            ) from error
        raise


def _in_cloud(
    context: ContextAnalysis, target: Candidate, model: ModelSpec, cloud: CloudModel, left_s: float
) -> ExecutionResult:
    request = context.request
    with _by_the_deadline(target, left_s):
        answer = cloud.converse(
            CloudCall(
                model.model_id, request.prompt, request.answer_limit, request.temperature, left_s
            )
        )
    return _served(
        context,
        model,
        answer,
        tier="cloud",
        node_id=None,
        latency_ms=round(target.network_ms + answer.latency_ms, 3),
        compute_ms=round(answer.latency_ms, 3),
    )


def _on_device(
    context: ContextAnalysis, target: Candidate, model: ModelSpec, tiers: Tiers, plan: CachePlan
) -> ExecutionResult:
    request = context.request
    installed = model.model_id in request.device.installed_models
    # The emulated on-device run: real onnxruntime compute, the simulated model's text.
    tiers.local_models.get(model).run(request.prompt)
    answer = generate(model.model_id, request.prompt, request.answer_limit)
    fetch_ms = device_fetch_ms(model, request.device, request.network)
    compute_ms = compute_time_ms(
        model.latency_ms,
        context.input_tokens + answer.output_tokens,
        device_speed(context.device_score),
    )
    return ExecutionResult(
        request_id=context.request_id,
        tier="device",
        node_id=None,
        model_id=model.model_id,
        output=answer.text,
        latency_ms=round(fetch_ms + compute_ms, 3),
        compute_ms=round(compute_ms, 3),
        cost_usd=0.0,
        input_tokens=context.input_tokens,
        output_tokens=answer.output_tokens,
        finish_reason=answer.finish_reason,
        device_directive=DeviceDirective(
            model_id=model.model_id,
            artifact_key=model.artifact_key,
            sha256=model.sha256,
            installed=installed,
            max_tokens=request.answer_limit,
            temperature=request.temperature,
        ),
    )
