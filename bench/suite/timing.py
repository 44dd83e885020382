"""How the platform benchmark times things: rounds beside a reference loop, on one core."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

REFERENCE_CALLS = 200


@dataclasses.dataclass(frozen=True)
class Plan:
    """How many repetitions each section makes."""

    rounds: int = 10
    router_calls: int = 1000
    context_calls: int = 500
    handler_calls: int = 100
    handler_warmup: int = 15
    cold_runs: int = 9
    pipeline_c1: int = 20
    pipeline_c16: int = 64
    litellm_rounds: int = 8
    litellm_calls: int = 400


QUICK = Plan(
    rounds=2,
    router_calls=300,
    context_calls=200,
    handler_calls=20,
    handler_warmup=3,
    cold_runs=3,
    pipeline_c1=8,
    pipeline_c16=32,
    litellm_rounds=2,
    litellm_calls=100,
)


def say(text: str = "") -> None:
    print(text, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: a value that was measured, never an interpolation (0 when
    nothing was measured, as in a load test where every request failed)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50": percentile(samples, 0.50),
        "p95": percentile(samples, 0.95),
        "p99": percentile(samples, 0.99),
        "mean": statistics.fmean(samples),
        "min": min(samples),
        "max": max(samples),
    }


def reference_loop() -> int:
    """A fixed pure-Python workload. A figure divided by it compares across machines, and
    across a busy and a quiet spell of a shared one."""
    return sum(i * i for i in range(1000))


def timings(call: Callable[[], object], calls: int) -> list[float]:
    """Microseconds per call, one call at a time."""
    measured = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        call()
        measured.append((time.perf_counter_ns() - started) / 1000)
    return measured


def repeated(call: Callable[[], object], plan: Plan, calls: int) -> dict[str, Any]:
    """Time `call` in rounds, each next to a round of the reference loop; microseconds."""
    timings(call, max(50, calls // 10))
    timings(reference_loop, 50)
    samples: list[float] = []
    round_medians: list[float] = []
    ratios: list[float] = []
    for _ in range(plan.rounds):
        gc.collect()
        reference = statistics.median(timings(reference_loop, REFERENCE_CALLS))
        mine = timings(call, calls)
        samples.extend(mine)
        round_medians.append(statistics.median(mine))
        ratios.append(round_medians[-1] / reference)
    return {
        "us": summary(samples),
        "round_p50_us": [round(m, 2) for m in round_medians],
        "per_s_one_core": 1e6 / statistics.fmean(samples),
        "p50_in_reference_loops": statistics.median(ratios),
    }


@contextlib.contextmanager
def one_core() -> Iterator[int | None]:
    """Pin this thread to one CPU for a single-core figure (where the OS allows it)."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    core = max(before)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)


def bench_reference(plan: Plan) -> dict[str, Any]:
    with one_core():
        return {"us": summary(timings(reference_loop, REFERENCE_CALLS * plan.rounds))}
