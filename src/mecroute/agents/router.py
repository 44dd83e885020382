"""Router agent: hard constraints first, then a weighted score over the feasible candidates.

Criteria: latency, accuracy, cost and availability, each scored in [0, 1] and weighted
40/30/20/10 unless the request overrides the weights. Privacy is absolute: a `strict`
request is never routed to the cloud, even when that leaves no candidate at all.

The request's answer length is a guess: the SLA and budget constraints check every option on
it, while the latency and cost scores rank the options that pass at a standard answer
(`estimates.RANKING_ANSWER_TOKENS`), so the guess decides only what is feasible (issue 15).

A decision is the router's hot path (issue 16): what depends on the snapshot alone is planned
once per snapshot, every option is estimated and checked in one loop, and only the options
whose score bound can reach the primary and fallbacks are scored in full. `frozen_router.py`
in the unit tests is the straightforward version it must agree with exactly.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple

from pydantic import TypeAdapter

from mecroute.agents.learning import is_drifting
from mecroute.domain.estimates import (
    DEFAULT_LATENCY_SIGMA,
    LEARNED_MIN_SAMPLES,
    RANKING_ANSWER_TOKENS,
    USE_CASE_BONUS,
    Capability,
    RoutingOverhead,
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
    NodeStatus,
    Placement,
    Rejection,
    ResourceSnapshot,
    RoutingDecision,
    TierStat,
)
from mecroute.domain.registry import ModelSpec, Tier
from mecroute.domain.request import CriterionWeights, DeviceTelemetry

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


# -- once per snapshot ---------------------------------------------------------------------------
# A snapshot changes every few seconds, requests arrive many times a second: what depends on the
# snapshot alone (the options, their places and labels, each node's speed and queue, learned
# statistics, health, capability ranks) is worked out once per snapshot object.


class PlannedOption(NamedTuple):
    """One option with what its estimate needs from the snapshot alone; `place` is its tier
    and node, where a fallback should differ."""

    option: Option
    label: str
    place: tuple[str, str | None]
    model_index: int  # into the snapshot's models
    region: str  # where it runs: the node's or the cloud's region ("" on the device)
    site_ms: float  # beyond the device's link: a MEC site's RTT or the cloud's backhaul
    speed: float  # the tier's speed relative to the reference hardware (device: per request)
    full: NodeStatus | None  # the node, when it has no free slot and the request must wait
    load_ms: float  # loading a warm model first
    # (availability, its rounded score) when the place keeps pace and when it is drifting;
    # the device's depends on the request, so there it is worked out per request
    availability: tuple[tuple[float, float], tuple[float, float]]
    health: tuple[ConstraintName, str] | None  # unhealthy, or its circuit breaker refuses
    timed: TierStat | None  # learned latency, when there are enough samples
    sigma: float  # the tier's latency spread
    quality: TierStat | None  # learned caller verdicts, when there are enough
    fields: dict[str, str | None]  # the Candidate fields that name it (tier, node, model...)


# What keeps an option out before anything is estimated: privacy, then health and breakers.
Refusals = list[tuple[ConstraintName, str] | None]
# Refusals kept per (privacy, device region); the region is the caller's, so the kept ones
# are bounded.
MAX_KEPT_REFUSALS = 16


class SnapshotPlan(NamedTuple):
    """A snapshot's options in enumeration order, its models' capability ranks and, per
    model, the escalation credit at complexity 1; the options' refusals, kept per privacy."""

    snapshot: ResourceSnapshot
    options: list[PlannedOption]
    ranks: Capability
    credits: list[float]
    ceiling: float  # the largest credit (Capability.ceiling)
    refusals: dict[tuple[str, str | None], Refusals]


_last_plan: SnapshotPlan | None = None


def plan(snapshot: ResourceSnapshot) -> SnapshotPlan:
    """The snapshot's plan, worked out once per snapshot object (messages are frozen): the
    gateway and the simulator route many requests on one snapshot; the Lambda parses a new
    one per request, where this saves nothing and costs nothing."""
    global _last_plan
    last = _last_plan
    if last is not None and last.snapshot is snapshot:
        return last
    ranks = capability(snapshot.models)
    built = SnapshotPlan(
        snapshot,
        _planned_options(snapshot),
        ranks,
        [ranks.credit[model.model_id] for model in snapshot.models],
        ranks.ceiling,
        {},
    )
    _last_plan = built
    return built


def _refusals(snapshot_plan: SnapshotPlan, privacy: str, device_region: str | None) -> Refusals:
    """Each option's first refusal that depends on the request's privacy alone (and the
    device's region), else its health or breaker refusal: the same for every request of
    that privacy on one snapshot."""
    key = (privacy, device_region)
    known = snapshot_plan.refusals.get(key)
    if known is None:
        known = [_refusal(place, privacy, device_region) for place in snapshot_plan.options]
        if len(snapshot_plan.refusals) < MAX_KEPT_REFUSALS:
            snapshot_plan.refusals[key] = known
    return known


def _planned_options(snapshot: ResourceSnapshot) -> list[PlannedOption]:
    stats = {(s.tier, s.node_id, s.model_id): s for s in snapshot.stats}
    index = {model.model_id: i for i, model in enumerate(snapshot.models)}
    cloud = snapshot.cloud
    places = []
    for option in enumerate_options(snapshot):
        model, node = option.model, option.node
        learned = stats.get((option.tier, node.node_id if node else "-", model.model_id))
        timed = learned if learned and learned.samples >= LEARNED_MIN_SAMPLES else None
        sigma = DEFAULT_LATENCY_SIGMA
        if timed:
            sigma = latency_sigma(timed.latency_ewma_ms, timed.latency_p95_ms)
        quality = learned if learned and learned.quality_samples >= LEARNED_MIN_SAMPLES else None
        health: tuple[ConstraintName, str] | None = None
        if node is not None:
            region, site_ms = node.region, node.site_rtt_ms
            speed = node.speed_factor
            availability = AVAILABILITY["mec"] * (1 - 0.5 * node.utilisation)
            if not node.healthy:
                health = "health", node.unhealthy_reason or "node unhealthy"
        elif option.tier == "cloud":
            region, site_ms, speed = cloud.region, cloud.backhaul_rtt_ms, 1.0
            availability = AVAILABILITY["cloud"] * (1.0 if cloud.available else 0.0)
            if not cloud.available:
                health = "health", "cloud tier unavailable"
        else:
            region, site_ms, speed, availability = "", 0.0, 1.0, 0.0
        if health is None and snapshot.breakers and (refused := _breaker_refusal(option, snapshot)):
            health = "breaker", refused
        learned_availability = (
            _availability(availability, timed, drifting=False),
            _availability(availability, timed, drifting=True),
        )
        places.append(
            PlannedOption(
                option,
                option.label,
                (option.tier, node.node_id if node else None),
                index[model.model_id],
                region,
                site_ms,
                speed,
                # queue_wait_ms is nothing while a slot is free
                node if node is not None and node.free_slots <= 0 else None,
                0.0 if option.placement in ("hot", "device", "cold") else warm_load_ms(model),
                learned_availability,
                health,
                timed,
                sigma,
                quality,
                {
                    "tier": option.tier,
                    "node_id": node.node_id if node else None,
                    "endpoint": node.endpoint if node else None,
                    "model_id": model.model_id,
                    "placement": option.placement,
                },
            )
        )
    return places


def _refusal(
    place: PlannedOption, privacy: str, device_region: str | None
) -> tuple[ConstraintName, str] | None:
    if privacy != "none" and place.option.tier != "device":
        refused = _privacy(privacy, place.option.tier, place.region, device_region)
        if refused is not None:
            return refused
    return place.health


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


def _availability(base: float, timed: TierStat | None, *, drifting: bool) -> tuple[float, float]:
    """A place's availability after what was learned about it, and its criterion score."""
    availability = base
    if timed is not None:
        if drifting:
            availability *= 0.5  # slower than it should be: prefer other places
        availability *= timed.success_rate
    return availability, round(min(1.0, max(0.0, availability)), 4)


# -- once per request ----------------------------------------------------------------------------


class ModelFacts(NamedTuple):
    """What one model's estimates share across every place it can run, for one request."""

    accuracy: float
    cost_usd: float
    reference_ms: float  # compute time at speed 1
    ranking_cost_usd: float  # at the ranking answer length
    ranking_reference_ms: float


def _model_facts(
    context: ContextAnalysis, models: list[ModelSpec], ranking_answer_tokens: int | None
) -> list[ModelFacts]:
    answer = context.output_tokens
    ranked_answer = answer if ranking_answer_tokens is None else ranking_answer_tokens
    tokens = context.input_tokens + answer
    ranked_tokens = context.input_tokens + ranked_answer
    complexity, prompt = context.complexity, context.input_tokens
    return [
        _new_tuple(
            ModelFacts,
            (
                predicted_accuracy(model, complexity),
                cost_usd(model, prompt, answer),
                reference_time_ms(model.latency_ms, tokens),
                cost_usd(model, prompt, ranked_answer),
                reference_time_ms(model.latency_ms, ranked_tokens),
            ),
        )
        for model in models
    ]


class ScoreBound(NamedTuple):
    """What an upper bound of an option's score needs, for one request (`_Scorer`)."""

    sla: float
    latency: float  # the latency weight times the most the on-time part can add
    headroom: float  # the latency weight times the headroom's share
    accuracy: float
    availability: float
    scale: float
    model: list[float]  # per model: the cost score and credits, weighted


class Assessed(NamedTuple):
    """An option's estimate before the routing path is added and before the spread is needed:
    `tier_ms` and `ranking_tier_ms` are the tier's own time; `latency_ms` is end to end."""

    place: PlannedOption
    latency_ms: float
    tier_ms: float
    ranking_tier_ms: float
    drifting: bool
    network_ms: float
    accuracy: float
    cost_usd: float
    availability: float
    availability_score: float
    violation: tuple[ConstraintName, str] | None


class RequestAssessment(NamedTuple):
    """Every option assessed for one request (`_assess`)."""

    assessed: list[Assessed]  # every option, in enumeration order
    bounded: list[tuple[float, Assessed]]  # the feasible ones, with an upper bound of their score
    refused: list[Assessed]  # the ones a hard constraint keeps out
    drifting: list[str]  # the labels of the places slower than predicted


def _assess(
    context: ContextAnalysis,
    snapshot_plan: SnapshotPlan,
    facts: list[ModelFacts],
    bound: ScoreBound | None = None,
) -> RequestAssessment:
    """Every option's estimate at the request's answer length and its first broken constraint;
    with `bound`, also the feasible ones with an upper bound of their score.

    The hot loop of a decision: per-option work is a few additions and comparisons; anything
    shared by a place, a model or the request is computed outside it.
    """
    snapshot = snapshot_plan.snapshot
    request = context.request
    network, device, sla = request.network, request.device, request.sla
    reach_ms = network.rtt_ms + network.jitter_ms + upload_ms(context.input_tokens, network)
    on_device_speed = device_speed(context.device_score)
    device_availability = AVAILABILITY["device"] * (0.5 + 0.5 * min(1.0, context.device_score * 2))
    routing_ms = snapshot.routing_overhead.p50_ms
    max_latency_ms, min_accuracy, max_cost_usd = (
        sla.max_latency_ms,
        sla.min_accuracy,
        sla.max_cost_usd,
    )
    refusals = _refusals(snapshot_plan, context.effective_privacy, device.region)
    caller_room = snapshot.caller_budget.remaining_usd if snapshot.caller_budget else math.inf
    if bound is not None:
        bound_sla, bound_latency, bound_headroom, bound_accuracy = bound[:4]
        bound_availability, bound_scale, bound_model = bound[4:]
    assessed = []
    bounded: list[tuple[float, Assessed]] = []
    refused = []
    drifting_labels = []
    for place, violation in zip(snapshot_plan.options, refusals, strict=True):
        # Unpacked at once: a decision reads nearly every field of every place.
        (
            option,
            label,
            _,
            m,
            _,
            site_ms,
            speed,
            full,
            load_ms,
            kept_or_drifting,
            _,
            learned,
            _,
            quality,
            _,
        ) = place
        accuracy, cost, reference_ms, _, ranking_reference_ms = facts[m]
        tier = option.tier
        if tier == "device":
            fixed_ms = network_ms = device_fetch_ms(option.model, device, network)
            speed = on_device_speed
        else:
            network_ms = reach_ms + site_ms
            fixed_ms = network_ms + load_ms
        compute = reference_ms / speed
        ranked_compute = ranking_reference_ms / speed
        latency = fixed_ms + compute
        ranked = fixed_ms + ranked_compute
        if full is not None:
            slots, ahead, service_ms = full.slots, full.queue_depth, full.service_ms
            latency += queue_wait_ms(full.free_slots, ahead, slots, service_ms, compute)
            ranked += queue_wait_ms(full.free_slots, ahead, slots, service_ms, ranked_compute)
        drifting = False
        if learned is not None:
            # Judged at the ranking answer length, so the guess of this one's length cannot turn
            # drift (and the availability it halves) on or off.
            ewma = learned.latency_ewma_ms
            drifting = is_drifting(learned, ranked)
            if drifting:
                drifting_labels.append(label)
                # Slower than it should be: trust the observation (and prefer other places,
                # `_availability`). It is scaled to this request's answer by the predicted ratio.
                latency = ewma * (latency / ranked)
                ranked = ewma
            else:
                latency = 0.5 * latency + 0.5 * ewma
                ranked = 0.5 * ranked + 0.5 * ewma
        if tier == "device":
            availability, availability_score = _availability(
                device_availability, learned, drifting=drifting
            )
        else:
            availability, availability_score = kept_or_drifting[drifting]
        if quality is not None:
            # Callers' verdicts on this place's answers temper the model-based estimate.
            accuracy = 0.7 * accuracy + 0.3 * quality.quality
        # The caller also waits for the routing path before any tier runs (end_to_end).
        end_ms = latency + routing_ms
        # Hard constraints, in order: privacy, health and breaker (`_refusals`), the device,
        # accuracy, SLA, budget, the caller's budget.
        if violation is None:
            if tier == "device":
                violation = _device(option.model, device)
            if violation is None and (
                accuracy < min_accuracy or end_ms > max_latency_ms or cost > max_cost_usd
            ):
                violation = _estimate_violation(
                    accuracy, end_ms, cost, context, snapshot.routing_overhead
                )
            if violation is None and cost > caller_room:
                violation = _caller_budget_refusal(cost, snapshot)
        # tuple.__new__ skips the named tuple's Python-level __new__ (26 options a decision)
        item = _new_tuple(
            Assessed,
            (
                place,
                end_ms,
                latency,
                ranked,
                drifting,
                network_ms,
                accuracy,
                cost,
                availability,
                availability_score,
                violation,
            ),
        )
        assessed.append(item)
        if violation is not None:
            refused.append(item)
        elif bound is not None:
            headroom = 1 - (ranked + routing_ms) / bound_sla
            ceiling = bound_latency + (bound_headroom * headroom if headroom > 0.0 else 0.0)
            ceiling += bound_model[m]
            accuracy_part = bound_accuracy * accuracy + bound_availability * availability_score
            bounded.append((bound_scale * (ceiling + accuracy_part) + _SLACK, item))
    return RequestAssessment(assessed, bounded, refused, drifting_labels)


_new_tuple = tuple.__new__


def _privacy(
    privacy: str, tier: str, where: str, device_region: str | None
) -> tuple[ConstraintName, str] | None:
    if tier == "cloud" and privacy == "strict":
        return "privacy", "strict privacy: the request never leaves device or MEC"
    if privacy == "regional":
        # MEC sites sit in the operator's network next to the device; the cloud needs proof.
        allowed = where == device_region if device_region else tier == "mec"
        if not allowed:
            return (
                "privacy",
                f"regional privacy: {where} is not the device's region ({device_region})",
            )
    return None


def _device(model: ModelSpec, device: DeviceTelemetry) -> tuple[ConstraintName, str] | None:
    if device.memory_free_mb < model.memory_mb:
        return "device", f"needs {model.memory_mb:.0f} MB, device has {device.memory_free_mb}"
    if device.battery_pct < 15 and not device.charging:
        return "device", f"battery at {device.battery_pct:.0f}% and not charging"
    return None


def _estimate_violation(
    accuracy: float,
    latency_ms: float,
    cost: float,
    context: ContextAnalysis,
    path: RoutingOverhead,
) -> tuple[ConstraintName, str] | None:
    sla = context.request.sla
    if accuracy < sla.min_accuracy:
        return "accuracy", f"expected accuracy {accuracy:.2f} < {sla.min_accuracy:.2f}"
    if latency_ms > sla.max_latency_ms:
        return "sla", _sla_detail(latency_ms, sla.max_latency_ms, path)
    if cost > sla.max_cost_usd:
        return "budget", f"cost ${cost:.5f} > ${sla.max_cost_usd:.5f}"
    return None


def _caller_budget_refusal(
    cost: float, snapshot: ResourceSnapshot
) -> tuple[ConstraintName, str] | None:
    """The caller's own spend budget keeps this option out (checked last: an option it
    removes would otherwise be feasible, which is what makes a refusal a 402)."""
    budget = snapshot.caller_budget
    if budget is None:
        return None
    return "caller_budget", f"cost ${cost:.6f} > ${budget.remaining_usd:.6f} left: {budget.detail}"


def _sla_detail(latency_ms: float, sla_ms: int, path: RoutingOverhead) -> str:
    routing = f"routing path ~{path.p50_ms:.0f} ms ({path.path} p50, {path.source})"
    if path.p50_ms >= sla_ms:
        return f"the {routing} alone takes the whole {sla_ms} ms SLA"
    tier_ms = latency_ms - path.p50_ms
    return f"predicted {latency_ms:.0f} ms = {routing} + tier {tier_ms:.0f} ms > {sla_ms} ms"


def assess_options(
    context: ContextAnalysis,
    snapshot: ResourceSnapshot,
    ranking_answer_tokens: int | None = RANKING_ANSWER_TOKENS,
) -> list[Assessment]:
    """Every option with its estimate: the constraints' figures at the request's own answer
    length, the ranking's at `ranking_answer_tokens` (None: the request's own)."""
    snapshot_plan = plan(snapshot)
    facts = _model_facts(context, snapshot.models, ranking_answer_tokens)
    overhead = snapshot.routing_overhead
    assessments = []
    for item in _assess(context, snapshot_plan, facts).assessed:
        place = item.place
        latency, sigma = end_to_end(item.tier_ms, place.sigma, overhead)
        ranked, ranked_sigma = end_to_end(item.ranking_tier_ms, place.sigma, overhead)
        estimate = Estimate(
            latency,
            sigma,
            item.drifting,
            item.network_ms,
            item.accuracy,
            item.cost_usd,
            item.availability,
            overhead.p50_ms,
            ranked,
            ranked_sigma,
            facts[place.model_index].ranking_cost_usd,
        )
        assessments.append(Assessment(place.option, estimate, item.violation))
    return assessments


def route(
    context: ContextAnalysis,
    snapshot: ResourceSnapshot,
    defaults: CriterionWeights,
    scoring: Scoring = Scoring(),
) -> RoutingDecision:
    request = context.request
    weights = _normalised(request.weights or defaults)
    snapshot_plan = plan(snapshot)
    facts = _model_facts(context, snapshot.models, scoring.ranking_answer_tokens)
    scorer = _Scorer(context, snapshot_plan, weights, scoring, facts)
    _, feasible, refused, drifting = _assess(context, snapshot_plan, facts, scorer.bound)
    rejected = [
        Rejection(candidate=item.place.label, constraint=violation[0], detail=violation[1])
        for item in refused
        if (violation := item.violation)
    ]
    feasible, preference_rejections = _apply_preference(
        feasible, request.model_preference, pinned=request.pin_model
    )
    rejected.extend(preference_rejections)
    # Only the primary and its fallbacks become Candidate models, and only the options that
    # may be among them are scored in full.
    chosen = _order_with_diversity(scorer.best(feasible))
    if snapshot.breakers:
        chosen = _probe_first(chosen, feasible, snapshot, scorer)
    ordered = [scored.candidate() for scored in chosen]
    primary = ordered[0] if ordered else None
    error, budget_words = _no_route(primary, rejected, snapshot)
    return RoutingDecision(
        request_id=context.request_id,
        primary=primary,
        fallbacks=ordered[1:],
        candidates=ordered,
        rejected=rejected,
        weights=weights,
        confidence=_confidence(ordered),
        reason=_explain(primary, rejected, sorted(drifting), _path_too_slow(context, snapshot))
        + budget_words,
        error=error,
    )


@functools.lru_cache(maxsize=64)
def _normalised(weights: CriterionWeights) -> CriterionWeights:
    """Weights summing to one; most requests carry none and use the same defaults (frozen,
    so a value can be kept)."""
    return weights.normalised()


def _no_route(
    primary: Candidate | None, rejected: list[Rejection], snapshot: ResourceSnapshot
) -> tuple[Literal["NoFeasibleRoute", "BudgetExceeded"] | None, str]:
    """Without a primary: BudgetExceeded (and the budget's words) when the caller's budget
    removed a candidate nothing else did, else NoFeasibleRoute."""
    if primary is not None:
        return None, ""
    if snapshot.caller_budget and any(r.constraint == "caller_budget" for r in rejected):
        return "BudgetExceeded", f"; {snapshot.caller_budget.detail}"
    return "NoFeasibleRoute", ""


def _probe_first(
    chosen: list[Scored],
    feasible: list[tuple[float, Assessed]],
    snapshot: ResourceSnapshot,
    scorer: _Scorer,
) -> list[Scored]:
    """A half-open breaker admits one probe: the best feasible option at that place goes first.
    Ranked by score alone, a place the learned statistics still hold its failures against
    would never be tried again, and its breaker would stay half-open for good."""
    probing = {
        (seen.tier, seen.node_id, seen.model_id)
        for seen in snapshot.breakers
        if seen.state == "half_open" and seen.admits
    }
    at_probing = [item for _, item in feasible if _place_key(item) in probing]
    if not at_probing:
        return chosen
    # The best by score (of equals, the first enumerated), not by its bound.
    probe = max((scorer.score(item) for item in at_probing), key=_exact)
    rest = (scored for scored in chosen if scored.label != probe.label)
    return [probe, *rest][: MAX_FALLBACKS + 1]


def _place_key(item: Assessed) -> tuple[str, str, str]:
    option = item.place.option
    return option.tier, option.node.node_id if option.node else "-", option.model.model_id


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


def on_time_probability(predicted_ms: float, sigma: float, sla_ms: float) -> float:
    """P(latency <= SLA) for a lognormal latency with median `predicted_ms`."""
    return _on_time(math.log(sla_ms), predicted_ms, sigma)


def _on_time(log_sla: float, predicted_ms: float, sigma: float) -> float:
    z = (log_sla - math.log(max(predicted_ms, 1e-3))) / sigma
    return 0.5 * (1 + math.erf(z / _SQRT2))


_SQRT2 = math.sqrt(2)


def _round(value: float, digits: int) -> float:
    """`round(value, digits)`, exactly, in about half its time (a decision rounds ~40 figures).

    The built-in rounds the exact binary value through a decimal string. Scaled by 10**digits,
    the integer nearest the product is the same unless the product sits within its own rounding
    error of a half (or is too large for a fraction to show); n / 10**digits is then the double
    nearest the decimal, as the built-in returns. Those cases, zero and negatives (-0.0) go to it.
    """
    scaled = value * _SCALES[digits]
    nearest = round(scaled)
    if 0.0 < scaled < _EXACT_BELOW and -_NOT_NEAR_HALF < scaled - nearest < _NOT_NEAR_HALF:
        return nearest / _SCALES[digits]
    return round(value, digits)


_SCALES = {2: 1e2, 4: 1e4, 8: 1e8}
_EXACT_BELOW = 2.0**20  # a product below this has rounding error under 1.2e-10
_NOT_NEAR_HALF = 0.5 - 1e-9
# A rounded criterion score exceeds the unrounded one by at most this (round to 4 places).
_ROUNDING = 5e-5
# Added to every bound: more than the rounding error of summing a score in another order.
_SLACK = 1e-9


_first = operator.itemgetter(0)  # an entry's score bound
_exact = operator.attrgetter("exact")


class Scored(NamedTuple):
    """A feasible option with its criterion scores, before it is a Candidate model."""

    item: Assessed
    routing_ms: float  # the routing path's share of the item's end-to-end latency
    latency: float
    cost: float
    availability: float
    score: float
    exact: float  # the unrounded score, what the ranking compares

    @property
    def label(self) -> str:
        return self.item.place.label

    @property
    def place(self) -> tuple[str, str | None]:
        return self.item.place.place

    def candidate(self) -> Candidate:
        item = self.item
        accuracy = _round(item.accuracy, 4)
        # Validated as a dict in one call: the same checks as Candidate(...) with a nested
        # CriterionScores(...), at about two thirds of the cost (the router's hot path).
        return _CANDIDATE.validate_python(
            {
                **item.place.fields,
                "predicted_latency_ms": _round(item.latency_ms, 2),
                "routing_overhead_ms": _round(self.routing_ms, 2),
                "network_ms": _round(item.network_ms, 2),
                "predicted_accuracy": accuracy,
                "predicted_cost_usd": _round(item.cost_usd, 8),
                "scores": {
                    "latency": self.latency,
                    "accuracy": accuracy,
                    "cost": self.cost,
                    "availability": self.availability,
                },
                "score": self.score,
            }
        )


_CANDIDATE = TypeAdapter(Candidate)


class _Scorer:
    """Scores feasible options for one request: what is the same for every option (the SLA,
    its logarithm, the weights, each model's cost score and credit) is worked out once."""

    def __init__(
        self,
        context: ContextAnalysis,
        snapshot_plan: SnapshotPlan,
        weights: CriterionWeights,
        scoring: Scoring,
        facts: list[ModelFacts],
    ):
        complexity = context.complexity if scoring.escalate else 0.0
        task = context.task_type if scoring.escalate else None
        # Keeps scores in [0, 1]; the same for every option, so it changes no ranking.
        ceiling = snapshot_plan.ceiling + USE_CASE_BONUS
        self.scale = 1 / (1 + weights.accuracy * ceiling) if scoring.escalate else 1.0
        self.sla = context.request.sla.max_latency_ms
        self.log_sla = math.log(self.sla)
        self.sla_probability = scoring.sla_probability
        self.overhead = snapshot_plan.snapshot.routing_overhead
        self.routing_ms = self.overhead.p50_ms
        self.weights = (weights.latency, weights.accuracy, weights.cost, weights.availability)
        # Per model: the cost score (at the ranking answer length) and the escalation
        # (Capability.bonus) and use-case credits under the accuracy weight.
        cost_reference = scoring.cost_reference_usd
        self.cost_scores = [_round(1 / (1 + f.ranking_cost_usd / cost_reference), 4) for f in facts]
        self.credits = [
            weights.accuracy * (complexity * credit + use_case_bonus(model, task))
            for model, credit in zip(
                snapshot_plan.snapshot.models, snapshot_plan.credits, strict=True
            )
        ]
        # The latency score is at most 0.8 (on time for sure) plus its headroom part, and a
        # rounded score at most _ROUNDING above the unrounded one.
        on_time_at_most, headroom_share = (0.8, 0.2) if self.sla_probability else (0.0, 1.0)
        self.bound = ScoreBound(
            self.sla,
            weights.latency * (on_time_at_most + _ROUNDING),
            weights.latency * headroom_share,
            weights.accuracy,
            weights.availability,
            self.scale,
            [
                weights.cost * cost + credit
                for cost, credit in zip(self.cost_scores, self.credits, strict=True)
            ],
        )

    def best(self, feasible: list[tuple[float, Assessed]]) -> list[Scored]:
        """Scored options, enough of them to choose the primary and fallbacks exactly.

        Each option's score is bounded from above without its spread (the chance of being on
        time is at most 1); options are scored in order of that bound until four places are
        certainly ahead of everything left.
        """
        bounded = sorted(feasible, key=_first, reverse=True)
        scored: list[Scored] = []
        place_best: dict[tuple[str, str | None], float] = {}
        for bound, item in bounded:
            if len(place_best) > MAX_FALLBACKS:
                ahead = sum(1 for best in place_best.values() if best > bound)
                if ahead > MAX_FALLBACKS:
                    break
            result = self.score(item)
            scored.append(result)
            place = item.place.place
            if result.exact > place_best.get(place, -math.inf):
                place_best[place] = result.exact
        return scored

    def score(self, item: Assessed) -> Scored:
        # At the ranking answer length: the request's own guess only constrains.
        predicted_ms, sigma = end_to_end(item.ranking_tier_ms, item.place.sigma, self.overhead)
        headroom = max(0.0, 1 - predicted_ms / self.sla)
        latency_score = headroom
        if self.sla_probability:
            on_time = _on_time(self.log_sla, predicted_ms, sigma)
            latency_score = 0.8 * on_time + 0.2 * headroom
        latency = _round(latency_score, 4)
        m = item.place.model_index
        cost, availability = self.cost_scores[m], item.availability_score
        w_latency, w_accuracy, w_cost, w_availability = self.weights
        total = self.scale * (
            w_latency * latency
            + w_accuracy * item.accuracy
            + w_cost * cost
            + w_availability * availability
            + self.credits[m]
        )
        return _new_tuple(
            Scored, (item, self.routing_ms, latency, cost, availability, _round(total, 4), total)
        )


def _apply_preference(
    feasible: list[tuple[float, Assessed]], preference: str | None, pinned: bool = False
) -> tuple[list[tuple[float, Assessed]], list[Rejection]]:
    """A model preference narrows the choice when the preferred model is feasible at all; a
    pinned model narrows it always (no feasible candidate then means no route)."""
    if not preference:
        return feasible, []
    if not pinned and not any(_model_id(c) == preference for c in feasible):
        return feasible, []
    kept = [c for c in feasible if _model_id(c) == preference]
    dropped = [
        Rejection(
            candidate=c[1].place.label,
            constraint="preference",
            detail=f"caller {'pinned' if pinned else 'prefers'} {preference}",
        )
        for c in feasible
        if _model_id(c) != preference
    ]
    return kept, dropped


def _model_id(entry: tuple[float, Assessed]) -> str:
    return entry[1].place.option.model.model_id


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
