"""One policy's run on one path and seed, summarised: the figures the report shows and averages."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from mecroute.evaluation.simulate import Outcome, PolicyRun
from mecroute.evaluation.workload import RADIO_PROFILES, SLA_CLASSES

TIERS = ("device", "mec", "cloud")


def class_key(name: str, max_latency_ms: int) -> str:
    return f"{name}_{max_latency_ms}ms"


def summarise(run: PolicyRun) -> dict[str, Any]:
    outcomes = run.outcomes
    count = max(1, len(outcomes))
    return {
        "policy": run.name,
        "path": run.path,
        "utility": statistics.fmean(o.utility for o in outcomes) if outcomes else 0.0,
        "accuracy": sum(o.correct for o in outcomes) / count,
        "sla_attainment": sum(o.sla_met for o in outcomes) / count,
        "sla_met_by_class": {
            class_key(name, ms): _met([o for o in outcomes if o.sla_class == name])
            for name, _, ms in SLA_CLASSES
        },
        "sla_met_by_radio": {
            p.name: _met([o for o in outcomes if o.radio == p.name]) for p in RADIO_PROFILES
        },
        "cost_per_1000_usd": 1000 * sum(o.cost_usd for o in outcomes) / count,
        "served": sum(o.served for o in outcomes) / count,
        "tier_share": {t: sum(o.tier == t for o in outcomes) / count for t in TIERS},
        "fallbacks_per_request": sum(o.fallbacks for o in outcomes) / count,
        "routing_overhead_ms": _quantiles([o.routing_overhead_ms for o in outcomes]),
        "transit_ms": _quantiles([o.transit_ms for o in outcomes]),
        "end_to_end_ms": _quantiles([o.end_to_end_ms for o in outcomes if o.served]),
        "end_to_end_p95_ms_by_tier": {
            t: _quantiles([o.end_to_end_ms for o in outcomes if o.tier == t])["p95"] for t in TIERS
        },
    }


def _met(chosen: list[Outcome]) -> float | None:
    """SLA attainment of a group; None for a group with no requests in this run."""
    return sum(o.sla_met for o in chosen) / len(chosen) if chosen else None


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    p50, p95 = np.quantile(np.array(values), [0.5, 0.95])
    return {"p50": round(float(p50), 1), "p95": round(float(p95), 1)}
