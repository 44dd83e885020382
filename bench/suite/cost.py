"""Platform cost per million requests from the measured handler durations, the configured memory
sizes and AWS list prices (inference itself excluded)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from suite.table import Row, at_most

BUDGET_USD = 6.50

# -- AWS list prices: us-east-1, on-demand, first volume tier -----------------------------------
# From aws.amazon.com/{api-gateway,step-functions,lambda}/pricing as published on this date;
# this machine is offline, so re-check them there before quoting the cost to anyone.
PRICES_AS_OF = "2025-06-01"
API_GATEWAY_REST_PER_MILLION_USD = 3.50  # REST API requests, first 333 million a month
EXPRESS_PER_MILLION_USD = 1.00  # Step Functions Express requests
EXPRESS_PER_GB_SECOND_USD = 0.06 / 3600  # $0.06 per GB-hour, first 1,000 GB-hours a month
EXPRESS_DURATION_INCREMENT_MS = 100  # duration is rounded up to the next 100 ms
EXPRESS_MEMORY_CHUNK_MB = 64  # memory is billed in 64 MB chunks
# The pricing page's estimate: 50 MB + definition size + execution data size (no Map/Parallel).
EXPRESS_BASE_MEMORY_MB = 50.0
LAMBDA_REQUESTS_PER_MILLION_USD = 0.20
LAMBDA_ARM64_PER_GB_SECOND_USD = 0.0000133334  # first 7.5 billion GB-seconds a month
# Not measurable offline: what Step Functions adds per Lambda task state (the Invoke round
# trip and the transitions) to the Express execution's duration. An assumption, said so.
EXPRESS_TASK_OVERHEAD_MS = 20.0
# One successful request: one of each agent, the execute agent on a MEC node, the monitor
# building the answer (ComposeAnswer); these are the execution's task states.
PATH = {
    "context": "context",
    "resource": "resource",
    "router": "router",
    "cache": "cache",
    "execute": "execute (mec)",
    "monitor": "monitor (answer)",
}
# Invoked asynchronously (RecordOutcome's event): billed as Lambda, outside the Express
# duration, whose RecordOutcome task state only hands the event over.
OFF_PATH = {"monitor (store)": ("monitor", "monitor (store)")}


def round_up(value: float, step: float) -> float:
    return math.ceil(value / step) * step


def cost_per_million(
    handlers: dict[str, Any], asl_bytes: int, memory_mb: Mapping[str, int]
) -> dict[str, Any]:
    """Platform cost of one successful request, inference excluded: the execute agent's
    duration is its own work around a node that answers at once (time scale 0).
    `handlers` holds warm_handlers' cases; `memory_mb` each agent's memory size (the manifest's)."""
    invoked = {agent: (agent, case) for agent, case in PATH.items()} | OFF_PATH
    lambdas = {}
    for name, (agent, case) in invoked.items():
        size_mb = memory_mb[agent]
        billed_ms = handlers[case]["billed_mean_ms"]
        duration_usd = size_mb / 1024 * billed_ms / 1000 * LAMBDA_ARM64_PER_GB_SECOND_USD * 1e6
        lambdas[name] = {
            "memory_mb": size_mb,
            "billed_mean_ms": billed_ms,
            "requests_usd": LAMBDA_REQUESTS_PER_MILLION_USD,
            "duration_usd": duration_usd,
        }
    data_bytes = sum(handlers[case]["output_bytes"] for case in PATH.values())
    express_memory_mb = EXPRESS_BASE_MEMORY_MB + (asl_bytes + data_bytes) / 1e6
    billed_memory_gb = round_up(express_memory_mb, EXPRESS_MEMORY_CHUNK_MB) / 1024
    execution_ms = sum(lambdas[agent]["billed_mean_ms"] for agent in PATH)
    # Every task state, RecordOutcome's hand-over of the event included.
    execution_ms += EXPRESS_TASK_OVERHEAD_MS * (len(PATH) + len(OFF_PATH))
    billed_execution_ms = round_up(execution_ms, EXPRESS_DURATION_INCREMENT_MS)
    express_duration_usd = (
        billed_memory_gb * billed_execution_ms / 1000 * EXPRESS_PER_GB_SECOND_USD * 1e6
    )
    lambda_usd = sum(lam["requests_usd"] + lam["duration_usd"] for lam in lambdas.values())
    fixed = API_GATEWAY_REST_PER_MILLION_USD + EXPRESS_PER_MILLION_USD
    fixed += LAMBDA_REQUESTS_PER_MILLION_USD * len(lambdas)
    total = API_GATEWAY_REST_PER_MILLION_USD + EXPRESS_PER_MILLION_USD
    total += express_duration_usd + lambda_usd
    execute_gb = memory_mb["execute"] / 1024
    return {
        "prices_as_of": PRICES_AS_OF,
        "total_usd": total,
        "fixed_usd": fixed,
        "variable_usd": total - fixed,
        "api_gateway_usd": API_GATEWAY_REST_PER_MILLION_USD,
        "express_requests_usd": EXPRESS_PER_MILLION_USD,
        "express_duration_usd": express_duration_usd,
        "express_execution_ms_estimate": execution_ms,
        "express_billed_ms": billed_execution_ms,
        "express_billed_memory_mb": billed_memory_gb * 1024,
        "express_task_overhead_ms_assumed": EXPRESS_TASK_OVERHEAD_MS,
        "lambdas": lambdas,
        "lambda_usd": lambda_usd,
        "execute_wait_usd_per_10ms_inference": (
            execute_gb * 0.010 * LAMBDA_ARM64_PER_GB_SECOND_USD * 1e6
        ),
        "express_usd_per_100ms": EXPRESS_PER_GB_SECOND_USD * billed_memory_gb * 0.1 * 1e6,
    }


def rows(cost: dict[str, Any]) -> list[Row]:
    return [
        at_most(
            "Platform cost per million requests (inference excluded)",
            f"${cost['total_usd']:.2f} (fixed ${cost['fixed_usd']:.2f} + durations "
            f"${cost['variable_usd']:.2f})",
            cost["total_usd"],
            BUDGET_USD,
            f"≤ ${BUDGET_USD:.2f}",
        )
    ]


def notes(cost: dict[str, Any]) -> list[str]:
    lines = [
        f"Cost per million requests at AWS list prices of {cost['prices_as_of']} (us-east-1):",
        "",
        "| item | memory | billed duration (mean) | $ / million |",
        "|---|---|---|---|",
        f"| API Gateway REST | - | - | {cost['api_gateway_usd']:.2f} |",
        f"| Step Functions Express requests | - | - | {cost['express_requests_usd']:.2f} |",
        f"| Step Functions Express duration | {cost['express_billed_memory_mb']:.0f} MB | "
        f"{cost['express_billed_ms']:.0f} ms (estimated "
        f"{cost['express_execution_ms_estimate']:.0f} ms: agents + "
        f"{cost['express_task_overhead_ms_assumed']:.0f} ms per task, assumed) | "
        f"{cost['express_duration_usd']:.3f} |",
    ]
    for agent, lam in cost["lambdas"].items():
        lines.append(
            f"| Lambda {agent} (request + duration) | {lam['memory_mb']} MB | "
            f"{lam['billed_mean_ms']:.1f} ms | "
            f"{lam['requests_usd']:.2f} + {lam['duration_usd']:.3f} |"
        )
    lines.append(f"| **total** | | | **{cost['total_usd']:.2f}** |")
    return [
        "\n".join(lines),
        f"Each 10 ms the execute agent waits on an inference adds "
        f"${cost['execute_wait_usd_per_10ms_inference']:.3f} per million (its memory size), "
        f"and each 100 ms of execution ${cost['express_usd_per_100ms']:.3f} (Express).",
    ]
