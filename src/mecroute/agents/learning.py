"""The learning loop's arithmetic: outcome events fold into per (tier, node, model) statistics.

Latency is tracked as an exponentially weighted mean and a streaming p95 estimate (stochastic
approximation: the estimate moves up by 0.95·step when a sample exceeds it and down by
0.05·step otherwise, so it settles where 95% of samples fall below). Success is an EWMA too,
so a node that starts failing loses its standing within a few requests, and recovers as fast.
"""

from __future__ import annotations

from mecroute.domain.breaker import place_key
from mecroute.domain.estimates import (
    DRIFT_RATIO,
    LEARNED_MIN_SAMPLES,
    RoutingOverhead,
    RoutingPath,
)
from mecroute.domain.events import FeedbackEvent, OutcomeEvent
from mecroute.domain.messages import TierStat

ALPHA = 0.2
QUANTILE = 0.95


def stat_key(tier: str, node_id: str | None, model_id: str) -> str:
    return place_key(tier, node_id, model_id)  # a breaker's key too: one place, one key


def fold(stat: TierStat | None, event: OutcomeEvent) -> TierStat:
    """Fold one outcome event (from the monitor agent) into the statistic it belongs to."""
    success = event.success
    latency = event.latency_ms
    if stat is None:
        first = float(latency) if latency is not None else 0.0
        return TierStat(
            tier=event.tier,
            node_id=event.node_id or "-",
            model_id=event.model_id,
            latency_ewma_ms=first,
            latency_p95_ms=first,
            success_rate=1.0 if success else 0.0,
            samples=1,
            revision=1,
        )
    ewma, p95 = stat.latency_ewma_ms, stat.latency_p95_ms
    if latency is not None:
        sample = float(latency)
        ewma = sample if stat.samples == 0 else (1 - ALPHA) * ewma + ALPHA * sample
        step = max(1.0, 0.1 * ewma)
        p95 = p95 + step * (QUANTILE if sample > p95 else -(1 - QUANTILE))
    return stat.model_copy(
        update={
            "latency_ewma_ms": round(ewma, 3),
            "latency_p95_ms": round(max(p95, 0.0), 3),
            "success_rate": round((1 - ALPHA) * stat.success_rate + ALPHA * float(success), 4),
            "samples": stat.samples + 1,
            "revision": stat.revision + 1,
        }
    )


def fold_routing_overhead(
    current: RoutingOverhead | None, path: RoutingPath, overhead_ms: float
) -> RoutingOverhead:
    """Fold one recorded routing overhead into the path's learned median and p95.

    Both are streaming quantile estimates (the same stochastic approximation as latency p95),
    so a burst of slow requests moves them by steps, not at once.
    """
    if current is None or current.source != "learned" or current.path != path:
        first = round(overhead_ms, 3)
        return RoutingOverhead(path=path, p50_ms=first, p95_ms=first, samples=1, source="learned")
    step = max(1.0, 0.1 * current.p50_ms)
    p50 = current.p50_ms + step * (0.5 if overhead_ms > current.p50_ms else -0.5)
    p95 = current.p95_ms + step * (QUANTILE if overhead_ms > current.p95_ms else -(1 - QUANTILE))
    return current.model_copy(
        update={
            "p50_ms": round(max(p50, 0.0), 3),
            "p95_ms": round(max(p95, p50, 0.0), 3),
            "samples": current.samples + 1,
        }
    )


def feedback_quality(event: FeedbackEvent) -> float:
    """A caller's verdict as a number: `correct` when given, else the 1-5 rating rescaled."""
    if event.correct is not None:
        return 1.0 if event.correct else 0.0
    return (event.rating - 1) / 4


def fold_feedback(stat: TierStat | None, event: FeedbackEvent) -> TierStat:
    """Fold caller feedback into the answer-quality estimate of the place that answered (the
    caller checks that the event names one: `tier` and `model_id` set)."""
    quality = feedback_quality(event)
    if stat is None:
        if event.tier is None or event.model_id is None:
            raise ValueError(f"feedback on {event.request_id} names no place to learn about")
        observed = float(event.observed_latency_ms or 0.0)
        return TierStat(
            tier=event.tier,
            node_id=event.node_id or "-",
            model_id=event.model_id,
            latency_ewma_ms=observed,
            latency_p95_ms=observed,
            success_rate=1.0,
            samples=0,
            quality=quality,
            quality_samples=1,
            revision=1,
        )
    blended = quality if stat.quality_samples == 0 else (1 - ALPHA) * stat.quality + ALPHA * quality
    return stat.model_copy(
        update={
            "quality": round(blended, 4),
            "quality_samples": stat.quality_samples + 1,
            "revision": stat.revision + 1,
        }
    )


def is_drifting(stat: TierStat, predicted_latency_ms: float) -> bool:
    """Enough outcomes say this place is much slower than the router predicts."""
    return (
        stat.samples >= LEARNED_MIN_SAMPLES
        and stat.latency_ewma_ms > DRIFT_RATIO * predicted_latency_ms
    )
