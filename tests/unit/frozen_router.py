"""FROZEN copy of agents/router.py before the speed work of issue 16 (this session), kept only so
that tests/unit/test_router_speedup.py can hold the faster router to the same decisions. Never
edit, except to port a deliberate decision change: it now includes issue 15's escalation credit
and its ranking at a standard answer length (`estimates.RANKING_ANSWER_TOKENS`), and issue 18's
circuit breakers (ported as they landed in the router), and the caller's spend budget (the
`caller_budget` constraint and the decision's `error`, ported in the third session).

Router agent: hard constraints first, then a weighted score over the feasible candidates.

Criteria: latency, accuracy, cost and availability, each scored in [0, 1] and weighted
40/30/20/10 unless the request overrides the weights. Privacy is absolute: a `strict`
request is never routed to the cloud, even when that leaves no candidate at all.

The request's answer length is a guess: the SLA and budget constraints check every option on
it, while the latency and cost scores rank the options that pass at a standard answer
(`estimates.RANKING_ANSWER_TOKENS`), so the guess decides only what is feasible (issue 15).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple

from mecroute.agents.learning import is_drifting
from mecroute.domain.estimates import (
    DEFAULT_LATENCY_SIGMA,
    LEARNED_MIN_SAMPLES,
    RANKING_ANSWER_TOKENS,
    USE_CASE_BONUS,
    Capability,
    capability,
    cost_usd,
    device_fetch_ms,
    device_speed,
    end_to_end,
    latency_sigma,
    predicted_accuracy,
    queue_wait_ms,
    reference_time_ms,
    upload_ms,
    use_case_bonus,
    warm_load_ms,
)
from mecroute.domain.messages import (
    Candidate,
    ConstraintName,
    ContextAnalysis,
    CriterionScores,
    NodeStatus,
    Placement,
    Rejection,
    ResourceSnapshot,
    RoutingDecision,
    TierStat,
)
from mecroute.domain.registry import ModelSpec, Tier
from mecroute.domain.request import CriterionWeights

MAX_FALLBACKS = 3
AVAILABILITY = {"device": 0.999, "mec": 0.9995, "cloud": 0.9999}  # the design's targets


@dataclass(frozen=True)
class Scoring:
    """How estimates become criterion scores.

    The latency score is the chance of meeting the request's SLA (from the learned latency
    spread) with a little credit for headroom; the cost score halves at `cost_reference_usd`.
    ORIGINAL is the first design, linear headroom and a $0.001 reference, kept as the
    `static-weights` baseline of the simulator.
    """

    sla_probability: bool = True
    cost_reference_usd: float = 0.01
    # Credit stronger models more as prompts get harder (estimates.Capability): what keeps a
    # harder prompt from being routed to a weaker model than an easier one.
    escalate: bool = True
    # The answer length the latency and cost scores compare options at; None ranks at the
    # request's own guess, as the first design did (then the guess can flip a tier).
    ranking_answer_tokens: int | None = RANKING_ANSWER_TOKENS


ORIGINAL_SCORING = Scoring(
    sla_probability=False, cost_reference_usd=0.001, escalate=False, ranking_answer_tokens=None
)


class Option(NamedTuple):
    """A (tier, node, model) before constraints and scoring.

    This and the other per-option records are named tuples, not frozen dataclasses: a router
    decision builds a few of them for every (tier, node, model), and a frozen dataclass costs
    three times as much to build.
    """

    tier: Tier
    model: ModelSpec
    node: NodeStatus | None
    placement: Placement

    @property
    def label(self) -> str:
        where = f"{self.tier}/{self.node.node_id}" if self.node else self.tier
        return f"{where}/{self.model.model_id}"


class Assessment(NamedTuple):
    """An option with its estimate and the first hard constraint it breaks, if any."""

    option: Option
    estimate: Estimate
    violation: tuple[ConstraintName, str] | None


class ModelFacts(NamedTuple):
    """What one model's estimates share across every place it can run, for one request."""

    accuracy: float
    cost_usd: float
    reference_ms: float  # compute time at speed 1
    warm_load_ms: float
    ranking_cost_usd: float  # at the ranking answer length
    ranking_reference_ms: float


class RequestFacts(NamedTuple):
    """What every option's estimate shares for one request and snapshot."""

    reach_ms: float  # the device's link to the operator's network: RTT, jitter, upload
    device_speed: float
    device_availability: float
    cloud_availability: float


def assess_options(
    context: ContextAnalysis,
    snapshot: ResourceSnapshot,
    ranking_answer_tokens: int | None = RANKING_ANSWER_TOKENS,
) -> list[Assessment]:
    """Every option with its estimate: the constraints' figures at the request's own answer
    length, the ranking's at `ranking_answer_tokens` (None: the request's own)."""
    stats = {(s.tier, s.node_id, s.model_id): s for s in snapshot.stats}
    answer = context.output_tokens
    ranked_answer = answer if ranking_answer_tokens is None else ranking_answer_tokens
    tokens = context.input_tokens + answer
    ranked_tokens = context.input_tokens + ranked_answer
    # What depends on the model alone, once per model rather than once per node.
    per_model = {
        model.model_id: ModelFacts(
            predicted_accuracy(model, context.complexity),
            cost_usd(model, context.input_tokens, answer),
            reference_time_ms(model.latency_ms, tokens),
            warm_load_ms(model),
            cost_usd(model, context.input_tokens, ranked_answer),
            reference_time_ms(model.latency_ms, ranked_tokens),
        )
        for model in snapshot.models
    }
    request = context.request
    shared = RequestFacts(
        request.network.rtt_ms
        + request.network.jitter_ms
        + upload_ms(context.input_tokens, request.network),
        device_speed(context.device_score),
        AVAILABILITY["device"] * (0.5 + 0.5 * min(1.0, context.device_score * 2)),
        AVAILABILITY["cloud"] * (1.0 if snapshot.cloud.available else 0.0),
    )
    assessed = []
    for option in enumerate_options(snapshot):
        estimate = _estimate(option, context, snapshot, stats, per_model, shared)
        assessed.append(
            Assessment(option, estimate, _violation(option, estimate, context, snapshot))
        )
    return assessed


def route(
    context: ContextAnalysis,
    snapshot: ResourceSnapshot,
    defaults: CriterionWeights,
    scoring: Scoring = Scoring(),
) -> RoutingDecision:
    weights = (context.request.weights or defaults).normalised()
    feasible: list[Scored] = []
    rejected: list[Rejection] = []
    ranks = capability(snapshot.models)
    assessed = assess_options(context, snapshot, scoring.ranking_answer_tokens)
    drifting = sorted({item.option.label for item in assessed if item.estimate.drifting})
    score = _Scorer(context, weights, scoring, ranks).score
    for item in assessed:
        if item.violation:
            constraint, detail = item.violation
            rejected.append(
                Rejection(candidate=item.option.label, constraint=constraint, detail=detail)
            )
        else:
            feasible.append(score(item.option, item.estimate))
    feasible, preference_rejections = _apply_preference(
        feasible, context.request.model_preference, pinned=context.request.pin_model
    )
    rejected.extend(preference_rejections)
    # Only the primary and its fallbacks become Candidate models: validating one per option
    # was most of a decision's time.
    chosen = _order_with_diversity(feasible)
    if snapshot.breakers:
        chosen = _probe_first(chosen, feasible, snapshot)
    ordered = [scored.candidate() for scored in chosen]
    primary = ordered[0] if ordered else None
    reason = _explain(primary, rejected, drifting, _path_too_slow(context, snapshot))
    error: Literal["NoFeasibleRoute", "BudgetExceeded"] | None = None
    if primary is None:
        error = "NoFeasibleRoute"
        # BudgetExceeded when the caller's budget removed a candidate nothing else did
        if snapshot.caller_budget and any(r.constraint == "caller_budget" for r in rejected):
            error = "BudgetExceeded"
            reason += f"; {snapshot.caller_budget.detail}"
    return RoutingDecision(
        request_id=context.request_id,
        primary=primary,
        fallbacks=ordered[1:],
        candidates=ordered,
        rejected=rejected,
        weights=weights,
        confidence=_confidence(ordered),
        reason=reason,
        error=error,
    )


def enumerate_options(snapshot: ResourceSnapshot) -> Iterator[Option]:
    for model in snapshot.models:
        if "device" in model.tiers:
            yield Option("device", model, None, "device")
        if "mec" in model.tiers:
            for node in snapshot.nodes:
                placement: Placement = "hot" if model.model_id in node.hot_models else "warm"
                yield Option("mec", model, node, placement)
        if "cloud" in model.tiers:
            yield Option("cloud", model, None, "cold")


class Estimate(NamedTuple):
    """`latency_ms` is end to end: the routing path's `routing_ms` plus the tier's own time.

    `latency_ms`, `latency_sigma` and `cost_usd` are for the request's own answer length (what
    the constraints check); the `ranking_` figures for the ranking answer length (what the
    scores compare).
    """

    latency_ms: float
    latency_sigma: float
    drifting: bool
    network_ms: float
    accuracy: float
    cost_usd: float
    availability: float
    routing_ms: float
    ranking_latency_ms: float
    ranking_sigma: float
    ranking_cost_usd: float


def _estimate(
    option: Option,
    context: ContextAnalysis,
    snapshot: ResourceSnapshot,
    stats: dict[tuple[Tier, str, str], TierStat],
    per_model: dict[str, ModelFacts],
    shared: RequestFacts,
) -> Estimate:
    request, model = context.request, option.model
    facts = per_model[model.model_id]
    network = request.network
    # The tier's own time: `fixed_ms` (network, loading), the compute at the tier's `speed`
    # and, on a full MEC node, the wait for a slot; at both answer lengths.
    node = option.node
    if option.tier == "device":
        fixed_ms = network_ms = device_fetch_ms(model, request.device, network)
        speed = shared.device_speed
        availability = shared.device_availability
    elif node is not None:
        load = 0.0 if option.placement == "hot" else facts.warm_load_ms
        network_ms = shared.reach_ms + node.site_rtt_ms
        fixed_ms = network_ms + load
        speed = node.speed_factor
        availability = AVAILABILITY["mec"] * (1 - 0.5 * node.utilisation)
    else:
        fixed_ms = network_ms = shared.reach_ms + snapshot.cloud.backhaul_rtt_ms
        speed = 1.0
        availability = shared.cloud_availability
    compute = facts.reference_ms / speed
    ranked_compute = facts.ranking_reference_ms / speed
    latency = fixed_ms + compute
    ranked = fixed_ms + ranked_compute
    if node is not None:
        latency += queue_wait_ms(
            node.free_slots, node.queue_depth, node.slots, node.service_ms, compute
        )
        ranked += queue_wait_ms(
            node.free_slots, node.queue_depth, node.slots, node.service_ms, ranked_compute
        )
    learned = stats.get((option.tier, option.node.node_id if option.node else "-", model.model_id))
    sigma = DEFAULT_LATENCY_SIGMA
    drifting = False
    if learned and learned.samples >= LEARNED_MIN_SAMPLES:
        sigma = latency_sigma(learned.latency_ewma_ms, learned.latency_p95_ms)
        # Judged at the ranking answer length, so the guess of this one's length cannot turn
        # drift (and the availability it halves) on or off.
        drifting = is_drifting(learned, ranked)
        if drifting:
            # Slower than it should be: trust the observation and prefer other places. What
            # was observed is scaled to this request's answer by the predicted ratio.
            availability *= 0.5
            latency = learned.latency_ewma_ms * (latency / ranked)
            ranked = learned.latency_ewma_ms
        else:
            latency = 0.5 * latency + 0.5 * learned.latency_ewma_ms
            ranked = 0.5 * ranked + 0.5 * learned.latency_ewma_ms
        availability *= learned.success_rate
    accuracy, cost = facts.accuracy, facts.cost_usd
    if learned and learned.quality_samples >= LEARNED_MIN_SAMPLES:
        # Callers' verdicts on this place's answers temper the model-based estimate.
        accuracy = 0.7 * accuracy + 0.3 * learned.quality
    # Learned statistics and drift are about the tier's own time; the caller also waits for
    # the routing path (API Gateway, the pipeline's states) before any tier runs.
    overhead = snapshot.routing_overhead
    ranked, ranked_sigma = end_to_end(ranked, sigma, overhead)
    latency, sigma = end_to_end(latency, sigma, overhead)
    return Estimate(
        latency,
        sigma,
        drifting,
        network_ms,
        accuracy,
        cost,
        availability,
        overhead.p50_ms,
        ranked,
        ranked_sigma,
        facts.ranking_cost_usd,
    )


def _violation(
    option: Option, estimate: Estimate, context: ContextAnalysis, snapshot: ResourceSnapshot
) -> tuple[ConstraintName, str] | None:
    request = context.request
    privacy = context.effective_privacy
    if option.tier == "cloud" and privacy == "strict":
        return "privacy", "strict privacy: the request never leaves device or MEC"
    if privacy == "regional" and option.tier != "device":
        region = request.device.region
        where = option.node.region if option.node else snapshot.cloud.region
        # MEC sites sit in the operator's network next to the device; the cloud needs proof.
        allowed = where == region if region else option.tier == "mec"
        if not allowed:
            return "privacy", f"regional privacy: {where} is not the device's region ({region})"
    if option.tier == "cloud" and not snapshot.cloud.available:
        return "health", "cloud tier unavailable"
    if option.node is not None and not option.node.healthy:
        return "health", option.node.unhealthy_reason or "node unhealthy"
    if snapshot.breakers and (refused := _breaker_refusal(option, snapshot)):
        return "breaker", refused
    if option.tier == "device":
        device = request.device
        if device.memory_free_mb < option.model.memory_mb:
            return (
                "device",
                f"needs {option.model.memory_mb:.0f} MB, device has {device.memory_free_mb}",
            )
        if device.battery_pct < 15 and not device.charging:
            return "device", f"battery at {device.battery_pct:.0f}% and not charging"
    if estimate.accuracy < request.sla.min_accuracy:
        return (
            "accuracy",
            f"expected accuracy {estimate.accuracy:.2f} < {request.sla.min_accuracy:.2f}",
        )
    if estimate.latency_ms > request.sla.max_latency_ms:
        return "sla", _sla_detail(estimate, request.sla.max_latency_ms, snapshot)
    if estimate.cost_usd > request.sla.max_cost_usd:
        return "budget", f"cost ${estimate.cost_usd:.5f} > ${request.sla.max_cost_usd:.5f}"
    budget = snapshot.caller_budget
    if budget is not None and estimate.cost_usd > budget.remaining_usd:
        return (
            "caller_budget",
            f"cost ${estimate.cost_usd:.6f} > ${budget.remaining_usd:.6f} left: {budget.detail}",
        )
    return None


def _breaker_refusal(option: Option, snapshot: ResourceSnapshot) -> str | None:
    """Why the place's circuit breaker keeps this option out (open, or its probe taken)."""
    node_id = option.node.node_id if option.node else "-"
    for seen in snapshot.breakers:
        if (
            not seen.admits
            and seen.model_id == option.model.model_id
            and seen.node_id == node_id
            and seen.tier == option.tier
        ):
            return f"breaker {seen.state}, retry in {seen.retry_in_s:.1f} s: {seen.reason}"
    return None


def _sla_detail(estimate: Estimate, sla_ms: int, snapshot: ResourceSnapshot) -> str:
    path = snapshot.routing_overhead
    routing = f"routing path ~{path.p50_ms:.0f} ms ({path.path} p50, {path.source})"
    if path.p50_ms >= sla_ms:
        return f"the {routing} alone takes the whole {sla_ms} ms SLA"
    tier_ms = estimate.latency_ms - estimate.routing_ms
    return (
        f"predicted {estimate.latency_ms:.0f} ms = {routing} + tier {tier_ms:.0f} ms > {sla_ms} ms"
    )


def on_time_probability(predicted_ms: float, sigma: float, sla_ms: float) -> float:
    """P(latency <= SLA) for a lognormal latency with median `predicted_ms`."""
    return _on_time(math.log(sla_ms), predicted_ms, sigma)


def _on_time(log_sla: float, predicted_ms: float, sigma: float) -> float:
    z = (log_sla - math.log(max(predicted_ms, 1e-3))) / sigma
    return 0.5 * (1 + math.erf(z / _SQRT2))


_SQRT2 = math.sqrt(2)


class Scored(NamedTuple):
    """A feasible option with its criterion scores, before it is a Candidate model."""

    option: Option
    estimate: Estimate
    latency: float
    cost: float
    availability: float
    score: float
    exact: float  # the unrounded score, what the ranking compares

    @property
    def label(self) -> str:
        return self.option.label

    @property
    def model_id(self) -> str:
        return self.option.model.model_id

    @property
    def place(self) -> tuple[str, str | None]:
        return self.option.tier, self.option.node.node_id if self.option.node else None

    def candidate(self) -> Candidate:
        option, estimate, node = self.option, self.estimate, self.option.node
        return Candidate(
            tier=option.tier,
            node_id=node.node_id if node else None,
            endpoint=node.endpoint if node else None,
            model_id=option.model.model_id,
            placement=option.placement,
            predicted_latency_ms=round(estimate.latency_ms, 2),
            routing_overhead_ms=round(estimate.routing_ms, 2),
            network_ms=round(estimate.network_ms, 2),
            predicted_accuracy=round(estimate.accuracy, 4),
            predicted_cost_usd=round(estimate.cost_usd, 8),
            scores=CriterionScores(
                latency=self.latency,
                accuracy=round(estimate.accuracy, 4),
                cost=self.cost,
                availability=self.availability,
            ),
            score=self.score,
        )


class _Scorer:
    """Scores feasible options for one request: what is the same for every option (the SLA,
    its logarithm, the weights, each model's cost score) is worked out once."""

    def __init__(
        self,
        context: ContextAnalysis,
        weights: CriterionWeights,
        scoring: Scoring,
        ranks: Capability,
    ):
        self.complexity = context.complexity if scoring.escalate else 0.0
        self.task = context.task_type if scoring.escalate else None
        self.ranks = ranks
        # Keeps scores in [0, 1]; the same for every option, so it changes no ranking.
        ceiling = ranks.ceiling + USE_CASE_BONUS
        self.scale = 1 / (1 + weights.accuracy * ceiling) if scoring.escalate else 1.0
        self.sla = context.request.sla.max_latency_ms
        self.log_sla = math.log(self.sla)
        self.sla_probability = scoring.sla_probability
        self.cost_reference = scoring.cost_reference_usd
        self.weights = (weights.latency, weights.accuracy, weights.cost, weights.availability)
        self.cost_scores: dict[float, float] = {}

    def score(self, option: Option, estimate: Estimate) -> Scored:
        # At the ranking answer length (Estimate): the request's own guess only constrains.
        predicted_ms = estimate.ranking_latency_ms
        headroom = max(0.0, 1 - predicted_ms / self.sla)
        latency_score = headroom
        if self.sla_probability:
            on_time = _on_time(self.log_sla, predicted_ms, estimate.ranking_sigma)
            latency_score = 0.8 * on_time + 0.2 * headroom
        latency = round(latency_score, 4)
        cost = self.cost_scores.get(estimate.ranking_cost_usd)
        if cost is None:
            cost = round(1 / (1 + estimate.ranking_cost_usd / self.cost_reference), 4)
            self.cost_scores[estimate.ranking_cost_usd] = cost
        availability = round(min(1.0, max(0.0, estimate.availability)), 4)
        w_latency, w_accuracy, w_cost, w_availability = self.weights
        total = self.scale * (
            w_latency * latency
            + w_accuracy * estimate.accuracy
            + w_cost * cost
            + w_availability * availability
            + w_accuracy
            * (
                self.ranks.bonus(option.model.model_id, self.complexity)
                + use_case_bonus(option.model, self.task)
            )
        )
        return Scored(option, estimate, latency, cost, availability, round(total, 4), total)


def _apply_preference(
    feasible: list[Scored], preference: str | None, pinned: bool = False
) -> tuple[list[Scored], list[Rejection]]:
    """A model preference narrows the choice when the preferred model is feasible at all; a
    pinned model narrows it always (no feasible candidate then means no route)."""
    if not preference:
        return feasible, []
    if not pinned and not any(c.model_id == preference for c in feasible):
        return feasible, []
    kept = [c for c in feasible if c.model_id == preference]
    dropped = [
        Rejection(
            candidate=c.label,
            constraint="preference",
            detail=f"caller {'pinned' if pinned else 'prefers'} {preference}",
        )
        for c in feasible
        if c.model_id != preference
    ]
    return kept, dropped


def _probe_first(
    chosen: list[Scored], feasible: list[Scored], snapshot: ResourceSnapshot
) -> list[Scored]:
    """A half-open breaker's one probe goes first (ported from the router)."""
    probing = {
        (seen.tier, seen.node_id, seen.model_id)
        for seen in snapshot.breakers
        if seen.state == "half_open" and seen.admits
    }
    probe = next(
        (
            scored
            for scored in sorted(feasible, key=lambda s: -s.exact)
            if (scored.option.tier, scored.place[1] or "-", scored.model_id) in probing
        ),
        None,
    )
    if probe is None:
        return chosen
    return [probe, *(scored for scored in chosen if scored.label != probe.label)][
        : MAX_FALLBACKS + 1
    ]


def _order_with_diversity(feasible: list[Scored]) -> list[Scored]:
    """Best first; fallbacks prefer a different node or tier, so one failure does not repeat.

    Among equal scores the less loaded node comes first, which spreads load across MEC nodes.
    """
    ranked = sorted(feasible, key=lambda c: (-c.exact, -c.availability, c.label))
    chosen: list[Scored] = []
    places: set[tuple[str, str | None]] = set()
    for candidate in ranked:
        place = candidate.place
        if place not in places:
            chosen.append(candidate)
            places.add(place)
        if len(chosen) > MAX_FALLBACKS:
            return chosen
    for candidate in ranked:
        if candidate not in chosen and len(chosen) <= MAX_FALLBACKS:
            chosen.append(candidate)
    return chosen


def _confidence(ordered: list[Candidate]) -> float:
    """High when the winner is clearly ahead and likely available."""
    if not ordered:
        return 0.0
    primary = ordered[0]
    margin = primary.score - ordered[1].score if len(ordered) > 1 else 0.2
    return round(min(1.0, max(0.0, (0.5 + 2.5 * margin) * primary.scores.availability)), 4)


def _path_too_slow(context: ContextAnalysis, snapshot: ResourceSnapshot) -> str:
    """Why no tier can meet the SLA, when the routing path alone takes it all."""
    path, sla_ms = snapshot.routing_overhead, context.request.sla.max_latency_ms
    if path.p50_ms < sla_ms:
        return ""
    return (
        f"the {path.path} routing path alone takes ~{path.p50_ms:.0f} ms (p50, {path.source}),"
        f" the whole {sla_ms} ms SLA"
    )


def _explain(
    primary: Candidate | None, rejected: list[Rejection], drifting: list[str], path_note: str
) -> str:
    removed: dict[str, int] = {}
    for rejection in rejected:
        removed[rejection.constraint] = removed.get(rejection.constraint, 0) + 1
    removed_text = ", ".join(f"{name} {count}" for name, count in sorted(removed.items()))
    if primary is None:
        reason = f"no feasible candidate: removed by {removed_text or 'nothing (no candidates)'}"
        return f"{reason}; {path_note}" if path_note else reason
    s = primary.scores
    reason = (
        f"{primary.label} scored {primary.score:.2f} (latency {s.latency:.2f}, accuracy "
        f"{s.accuracy:.2f}, cost {s.cost:.2f}, availability {s.availability:.2f}); "
        f"removed: {removed_text or 'none'}"
    )
    if drifting:
        reason += f"; down-weighted, slower than predicted: {', '.join(drifting)}"
    return reason
