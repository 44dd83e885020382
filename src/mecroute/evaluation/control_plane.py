"""What routing itself costs on each path: the regional pipeline's published figures, or an edge
gateway's overhead; drawn per request as sums of lognormal components."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

Z95 = 1.645
PathName = Literal["regional", "edge"]
Z99 = 2.326
# The edge gateway's routing overhead (everything but the inference): `bench/bench_gateway.py`
# on main at 7af1291 (httptools on uvloop, the shipper in its own process), 400 sequential
# requests, the gateway pinned to one core of this shared 2-core machine under load (load
# average 5-11, other sessions running); medians of five runs: p50 3.3 ms, p99 18.2 ms.
# Issue 13's budget is p50 <= 2 ms, p99 <= 10 ms on one idle core: `--gateway-overhead-ms 2`.
GATEWAY_P50_MS = 3.3
GATEWAY_P99_MS = 18.2
GATEWAY_SOURCE = (
    "bench/bench_gateway.py (main at 7af1291), 400 sequential requests on one core of a shared "
    "2-core machine under load: p50 3.3 / p99 18.2 ms (medians of five runs)"
)


@dataclass(frozen=True)
class Component:
    """`count` independent lognormal draws with the stated median and p95, and their source."""

    name: str
    p50_ms: float
    p95_ms: float
    count: int
    source: str

    def draw(self, rng: np.random.Generator) -> float:
        sigma = math.log(max(self.p95_ms, self.p50_ms) / self.p50_ms) / Z95
        return float(np.sum(self.p50_ms * np.exp(sigma * rng.standard_normal(self.count))))


# The regional path before any tier runs (../shared/DESIGN.md, "What the regional path costs"):
# API Gateway -> StartSyncExecution -> 13 states of which 6 Lambda tasks, 5 DynamoDB calls and
# one Kinesis PutRecords. Sum of medians ~187 ms, in line with the design's ~190 ms p50.
REGIONAL: tuple[Component, ...] = (
    Component(
        "API Gateway REST",
        20.0,
        50.0,
        1,
        "forum.serverless.com 'lambda call latency' thread (anecdotal)",
    ),
    Component(
        "Express Lambda task state",
        15.0,
        40.0,
        6,
        "cremich/aws-sf-lambda-benchmark: API Gateway -> sync Express, 2 task states, 15,000 "
        "requests, p50 123 / p95 172 ms including connect",
    ),
    Component("Pass/Choice state", 1.0, 2.0, 7, "assumption"),
    Component(
        "DynamoDB call, warm connection",
        8.0,
        25.0,
        5,
        "AWS knowledge center 'DynamoDB high latency' (single-digit ms server-side)",
    ),
    Component("Kinesis PutRecords", 15.0, 50.0, 1, "assumption (no published figure found)"),
    Component(
        "agents' own CPU at 512 MB",
        15.0,
        30.0,
        1,
        "measured 8.6 ms on a full core, scaled for Lambda's memory-proportional CPU (9-30 ms)",
    ),
)
# Each fallback after the first attempt is one more Execute task state and its Catch.
REGIONAL_FALLBACK = Component(
    "Execute retry (task state + Catch)", 16.0, 42.0, 1, "as the Lambda task state above"
)


def gateway(p50_ms: float = GATEWAY_P50_MS) -> tuple[Component, ...]:
    """The gateway's overhead as one lognormal part; its spread (p99/p50) is the measured one."""
    sigma = math.log(GATEWAY_P99_MS / GATEWAY_P50_MS) / Z99
    source = GATEWAY_SOURCE if p50_ms == GATEWAY_P50_MS else "given on the command line"
    p95 = p50_ms * math.exp(Z95 * sigma)
    return (Component("edge gateway routing", p50_ms, p95, 1, source),)


@dataclass(frozen=True)
class RoutingPath:
    """Where decisions are made: `regional` (client -> region -> tier) or `edge` (client ->
    its MEC site's gateway -> tier). `overhead` is routing's own time, once per request."""

    name: PathName
    overhead: tuple[Component, ...]
    per_fallback: Component | None

    def overhead_ms(self, rng: np.random.Generator) -> float:
        return sum(component.draw(rng) for component in self.overhead)

    def fallback_ms(self, rng: np.random.Generator) -> float:
        return self.per_fallback.draw(rng) if self.per_fallback else 0.0

    def describe(self) -> list[dict[str, object]]:
        parts = self.overhead + ((self.per_fallback,) if self.per_fallback else ())
        return [
            {
                "name": c.name,
                "p50_ms": c.p50_ms,
                "p95_ms": c.p95_ms,
                "count": c.count,
                "source": c.source,
            }
            for c in parts
        ]


def regional_path() -> RoutingPath:
    return RoutingPath("regional", REGIONAL, REGIONAL_FALLBACK)


def edge_path(gateway_p50_ms: float = GATEWAY_P50_MS) -> RoutingPath:
    # A fallback at the gateway is an in-process loop: no extra state, nothing to charge.
    return RoutingPath("edge", gateway(gateway_p50_ms), None)
