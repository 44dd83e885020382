"""The MEC node's serving overhead per model (bench_node.py's measurement) for the budgets table."""

from __future__ import annotations

from typing import Any

import bench_node

from mecroute.local.runtime import ZOO_DIR
from mecroute.mec.zoo import build_zoo
from suite.table import Row, at_most
from suite.timing import summary


def run() -> dict[str, Any]:
    model_ids = [spec.model_id for spec, _ in build_zoo(ZOO_DIR)]
    node = bench_node.start_node(ZOO_DIR, model_ids)
    models = {}
    try:
        for model_id in model_ids:
            round_trips, overheads = bench_node.served_latencies(node.port, model_id)
            models[model_id] = {
                "round_trip_ms": summary(round_trips),
                "overhead_ms": summary(overheads),
            }
    finally:
        node.stop()
    return {
        "models": models,
        "runs_per_model": bench_node.RUNS,
        "budget_p50_ms": bench_node.OVERHEAD_BUDGET_MS,
    }


def rows(node: dict[str, Any]) -> list[Row]:
    worst_id, worst = max(node["models"].items(), key=lambda kv: kv[1]["overhead_ms"]["p50"])
    return [
        at_most(
            "MEC node serving overhead p50 (worst model, from bench_node.py)",
            f"{worst['overhead_ms']['p50']:.3f} ms ({worst_id}; p99 "
            f"{worst['overhead_ms']['p99']:.3f} ms)",
            worst["overhead_ms"]["p50"],
            node["budget_p50_ms"],
            f"< {node['budget_p50_ms']:g} ms",
        )
    ]
