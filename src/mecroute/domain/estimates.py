"""The system's shared beliefs: tokens, compute, fetch, load, cost and accuracy of a request,
and the time the routing path itself takes.

The router predicts with these, the execute agent, the cloud simulator and the MEC node
charge with them. The simulator's ground truth deliberately differs and lives apart, in the
evaluation package; no agent imports it. Kept free of numpy so the router stays light.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from mecroute.domain.registry import ModelSpec
from mecroute.domain.request import DeviceTelemetry, NetworkConditions

# A learned statistic counts only after this many outcomes: below it, the router predicts
# from the registry alone and no place is declared to be drifting.
LEARNED_MIN_SAMPLES = 5
# A place is drifting when its learned latency exceeds the router's own prediction this much.
DRIFT_RATIO = 1.5
# Loading a warm model: fetch from S3 within the region plus session creation.
LOAD_MB_PER_S = 100.0
LOAD_FIXED_MS = 40.0
# Bytes per token of prompt text on the wire (about four characters of English).
BYTES_PER_TOKEN = 4


RoutingPath = Literal["regional", "edge"]
# Intra-op threads per session where each tier runs the graph: a phone keeps inference on one
# core; a MEC node runs one single-threaded session per slot so slots do not fight over cores;
# the cloud simulator serves one request at a time and may use every core (0 = all).
TIER_THREADS: dict[str, int] = {"device": 1, "mec": 1, "cloud": 0}


class RoutingOverhead(BaseModel):
    """The routing path's own time before any tier runs: the control-plane overhead."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: RoutingPath = Field(description="regional: API Gateway and the Express pipeline.")
    p50_ms: float = Field(ge=0)
    p95_ms: float = Field(ge=0)
    samples: int = Field(default=0, ge=0, description="Recorded overheads behind the figures.")
    source: Literal["prior", "learned"] = "prior"
    recent_events: tuple[str, ...] = Field(
        default=(),
        exclude=True,
        description="Ids of the latest events folded in, to fold none twice; stays in the table.",
    )


# The regional path before any tier runs, on paper (../shared/DESIGN.md, "What the regional
# path costs"): API Gateway REST ~20/50 ms (forum.serverless.com "lambda call latency" thread,
# anecdotal); 6 Express Lambda task states ~15/40 ms each (cremich/aws-sf-lambda-benchmark:
# API Gateway -> sync Express with 2 task states, 15,000 requests, p50 123 / p95 172 ms);
# 7 Pass/Choice states ~1 ms (assumption); 5 DynamoDB calls ~8/25 ms (AWS knowledge center
# "DynamoDB high latency"); Kinesis PutRecords ~15/50 ms (assumption); the agents' own CPU
# 9-30 ms (8.6 ms measured on a full core, scaled to 512 MB). Medians sum to ~190 ms; p95 ~270.
REGIONAL_PATH_PRIOR = RoutingOverhead(path="regional", p50_ms=190.0, p95_ms=270.0)
# An edge gateway routes in-process beside the nodes: issue 13's budget (p50 <= 2 ms,
# p99 <= 10 ms) stands in until recorded overheads replace it.
EDGE_PATH_PRIOR = RoutingOverhead(path="edge", p50_ms=2.0, p95_ms=5.0)
PATH_PRIORS: dict[RoutingPath, RoutingOverhead] = {
    "regional": REGIONAL_PATH_PRIOR,
    "edge": EDGE_PATH_PRIOR,
}
Z95 = 1.645  # standard normal 95th percentile
# Latency spread when nothing has been learned yet: a lognormal whose p95 is 1.8x its median.
DEFAULT_LATENCY_SIGMA = 0.36


def latency_sigma(ewma_ms: float, p95_ms: float) -> float:
    """The lognormal spread of a caller's latency around the router's prediction for a place
    with learned statistics (its mean and p95 over recent outcomes).

    Two errors add: the place's own spread, as its p95 over its mean shows, and the error of
    the prediction itself, a median made from the registry's formula, the queue and the
    learned mean. The prior spread stands for the second (before anything is learned it
    stands for both), and independent errors add in log-variance. The place's spread alone
    was overconfident for tight SLAs: in the simulator (`adaptive`, edge path, 5 seeds) the
    actual end to end exceeded the prediction's 95th percentile for 34% of the 300 ms class,
    as the streaming p95 sits near the mean for its first tens of samples (sigma 0.18 median
    at 5-20 samples) while the actual-to-predicted ratio had a spread of about 0.6.
    """
    place = math.log(p95_ms / ewma_ms) / Z95 if p95_ms > ewma_ms > 0 else 0.0
    return math.hypot(place, DEFAULT_LATENCY_SIGMA)


def routing_overhead(path: RoutingPath, learned: RoutingOverhead | None) -> RoutingOverhead:
    """Recorded figures once there are enough of them for this path; the prior until then."""
    if learned is not None and learned.path == path and learned.samples >= LEARNED_MIN_SAMPLES:
        return learned
    return PATH_PRIORS[path]


def end_to_end(tier_ms: float, tier_sigma: float, overhead: RoutingOverhead) -> tuple[float, float]:
    """Median and lognormal spread of routing path plus tier.

    Medians add; so do the p95s, a slightly pessimistic bound (both slow at once), which is
    the side to err on when the figure decides whether an SLA can be met.
    """
    median = tier_ms + overhead.p50_ms
    if median <= 0:
        return median, tier_sigma
    p95 = tier_ms * math.exp(Z95 * tier_sigma) + max(overhead.p95_ms, overhead.p50_ms)
    return median, max(0.05, math.log(p95 / median) / Z95)


def queue_wait_ms(
    free_slots: int, queue_depth: int, slots: int, service_ms: float | None, own_ms: float
) -> float:
    """Expected wait for a slot at a node serving first come, first served.

    Nothing while a slot is free. Otherwise the requests queued ahead, and this one's turn,
    drain at `slots` per service time: the node's measured mean slot hold time when it
    reports one (the requests ahead may be much longer than this one), else this request's
    own predicted compute `own_ms`.
    """
    if free_slots > 0:
        return 0.0
    per_request_ms = service_ms if service_ms is not None else own_ms
    return (queue_depth + 1) / slots * per_request_ms


def estimate_tokens(text: str) -> int:
    """About four characters per token for English, one per CJK character."""
    wide = sum(1 for ch in text if ord(ch) > 0x2E80)
    return max(1, math.ceil((len(text) - wide) / 4) + wide)


def compute_time_ms(reference_ms: float, total_tokens: int, speed_factor: float) -> float:
    """A model's compute time for a request: `reference_ms` is for 100 tokens at speed 1."""
    return reference_time_ms(reference_ms, total_tokens) / speed_factor


def reference_time_ms(reference_ms: float, total_tokens: int) -> float:
    """The request's compute time at speed 1; divide by a node's speed factor for its time."""
    return reference_ms * max(0.25, total_tokens / 100)


def device_speed(device_score: float) -> float:
    """How fast the device computes relative to reference hardware (the floor: a weak phone)."""
    return 0.2 + 0.8 * device_score


def device_fetch_ms(model: ModelSpec, device: DeviceTelemetry, network: NetworkConditions) -> float:
    """Time to download the model's artifact to the device; nothing if it is installed."""
    if model.model_id in device.installed_models:
        return 0.0
    return model.size_mb * 8 / network.bandwidth_mbps * 1000


def upload_ms(input_tokens: int, network: NetworkConditions) -> float:
    """Time to send the prompt over the device's link."""
    return input_tokens * BYTES_PER_TOKEN * 8 / (network.bandwidth_mbps * 1000)


def warm_load_ms(model: ModelSpec) -> float:
    """Time to load a warm model onto a MEC node from the artifact store."""
    return LOAD_FIXED_MS + model.size_mb / LOAD_MB_PER_S * 1000


def cost_usd(model: ModelSpec, input_tokens: int, output_tokens: int) -> float:
    """What the request costs at the model's per-1k-token prices (unrounded)."""
    return (
        input_tokens * model.price_per_1k_input_usd + output_tokens * model.price_per_1k_output_usd
    ) / 1000


def predicted_accuracy(model: ModelSpec, complexity: float) -> float:
    """Expected accuracy given the request's complexity, P(the MEC-class model is wrong).

    Unrounded: the router compares these exactly (see `Capability`); outputs round them.
    """
    expected = (1 - complexity) * model.accuracy_easy + complexity * model.accuracy_hard
    return min(1.0, max(0.0, expected))


class Capability(NamedTuple):
    """Who is weaker than whom, and the credit that keeps routing monotone in complexity.

    A model's capability is its registry average accuracy (`ModelSpec.accuracy`), ties broken
    by model id, so `rank` is a strict order: 0 is the weakest. "Weaker" means a lower rank.

    The registry's easy/hard figures need not respect that order: tinytext (hard 0.10) and
    edge-small (0.03) beat edge-large (0.0, the MEC-class reference) on hard prompts, so with
    `predicted_accuracy`'s linear easy/hard mix a weaker model gains on a stronger one as
    prompts get harder, and the router stepped down from edge-large to edge-small to
    tinytext as complexity rose. Accuracy alone cannot fix that: it is bounded in [0, 1], the
    MEC-class reference reaches 0 at complexity 1, so a weaker model's gap to it must shrink
    somewhere. Instead the router adds, under the accuracy weight, `complexity * credit[m]`,
    where `credit` grows with rank at least as fast as any stronger model's easy-to-hard drop
    exceeds a weaker one's: `credit[S] - credit[W] >= max(0, drop(S) - drop(W))` for every
    stronger S and weaker W (the smallest such credits, built from the weakest up). Then,
    between any two models, the stronger one's score never loses ground as complexity rises,
    so with everything else equal a harder prompt is never routed to a weaker model than an
    easier one. Predicted accuracies themselves stay the registry's (an accuracy floor may
    still, rightly, send a hard prompt to the model the registry predicts does better on it).
    """

    rank: dict[str, int]
    credit: dict[str, float]

    def bonus(self, model_id: str, complexity: float) -> float:
        """The escalation credit a model earns for a prompt of this complexity."""
        return complexity * self.credit[model_id]

    @property
    def ceiling(self) -> float:
        """The largest bonus any model can earn (at complexity 1)."""
        return max(self.credit.values(), default=0.0)


def capability(models: Sequence[ModelSpec]) -> Capability:
    """Capability ranks and escalation credits for a snapshot's models (see `Capability`)."""
    ordered = sorted(models, key=lambda m: (m.accuracy, m.model_id))
    drops = [m.accuracy_easy - m.accuracy_hard for m in ordered]
    credits: list[float] = []
    for strong, strong_drop in enumerate(drops):
        credits.append(
            max(
                (credits[weak] + max(0.0, strong_drop - drops[weak]) for weak in range(strong)),
                default=0.0,
            )
        )
    return Capability(
        {m.model_id: index for index, m in enumerate(ordered)},
        {m.model_id: credit for m, credit in zip(ordered, credits, strict=True)},
    )


# The answer length every option is ranked at (issue 15). A request's own answer length is a
# guess from its task type (the context agent's table, capped by the caller's limit): it decides
# which options can meet the SLA and the budget, checked on the full guess, and never which of
# those the router prefers, so a guess cannot move a request to another tier on its own. 64
# tokens is the context agent's guess for a question, a short answer.
RANKING_ANSWER_TOKENS = 64


# A model whose registry use cases name the request's task type is credited this much
# accuracy in the router's score (under the accuracy weight): the registry's easy/hard figures
# are measured on general questions, and a model declared for code, maths or translation is
# the better bet there. Independent of complexity, so the monotonicity of `Capability` holds.
USE_CASE_BONUS = 0.05


def use_case_bonus(model: ModelSpec, task_type: str | None) -> float:
    """`USE_CASE_BONUS` when the model's use cases include the task type, else nothing."""
    return USE_CASE_BONUS if task_type is not None and task_type in model.use_cases else 0.0
