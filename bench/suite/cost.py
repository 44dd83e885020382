"""Platform cost per million requests from the measured handler durations, the configured memory
sizes, the request units and stream data of the AWS calls the handlers really made, and AWS list
prices (inference itself excluded; so are logs and traces, which are billed per gigabyte and per
trace, not per request)."""

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
# duration, whose RecordOutcome task state only hands the event over. Then the stream's
# consumer folds the request's outcome event into the learned statistics.
OFF_PATH = {
    "monitor (store)": ("monitor", "monitor (store)"),
    "aggregator": ("aggregator", "aggregator (one outcome event)"),
}
# The aggregator is invoked per batch of stream records (`aggregator_batch`, the stack's
# batch size): its request is shared by a full batch (an assumption: at low traffic batches
# are smaller). Its duration is measured on a batch of one, so it is counted whole per event.
# DynamoDB on-demand, Kinesis Data Streams on-demand, Firehose (a Kinesis stream as source).
DYNAMODB_WRITE_UNITS_PER_MILLION_USD = 0.625
DYNAMODB_READ_UNITS_PER_MILLION_USD = 0.125
KINESIS_IN_PER_GB_USD = 0.08
KINESIS_OUT_PER_GB_USD = 0.04  # per consumer: the aggregator and Firehose
KINESIS_CONSUMERS = 2
FIREHOSE_PER_GB_USD = 0.029
UNIT_PRICES_PER_MILLION_USD = {
    "dynamodb_write_units": DYNAMODB_WRITE_UNITS_PER_MILLION_USD,
    "dynamodb_read_units": DYNAMODB_READ_UNITS_PER_MILLION_USD,
    # a kilobyte a request is a gigabyte (2^20 KB ~ 10^6) a million requests
    "kinesis_kb": (KINESIS_IN_PER_GB_USD + KINESIS_CONSUMERS * KINESIS_OUT_PER_GB_USD) / 1.048576,
    "firehose_kb": FIREHOSE_PER_GB_USD / 1.048576,
}


def round_up(value: float, step: float) -> float:
    return math.ceil(value / step) * step


def cost_per_million(
    handlers: dict[str, Any], asl_bytes: int, memory_mb: Mapping[str, int], aggregator_batch: int
) -> dict[str, Any]:
    """Platform cost of one successful request, inference excluded: the execute agent's
    duration is its own work around a node that answers at once (time scale 0).
    `handlers` holds warm_handlers' cases; `memory_mb` each agent's memory size (the manifest's)."""
    invoked = {agent: (agent, case) for agent, case in PATH.items()} | OFF_PATH
    invocations = {"aggregator": 1 / aggregator_batch}
    lambdas = {}
    for name, (agent, case) in invoked.items():
        size_mb = memory_mb[agent]
        billed_ms = handlers[case]["billed_mean_ms"]
        duration_usd = size_mb / 1024 * billed_ms / 1000 * LAMBDA_ARM64_PER_GB_SECOND_USD * 1e6
        lambdas[name] = {
            "memory_mb": size_mb,
            "billed_mean_ms": billed_ms,
            "requests_usd": LAMBDA_REQUESTS_PER_MILLION_USD * invocations.get(name, 1),
            "duration_usd": duration_usd,
        }
    data_bytes = sum(handlers[case]["output_bytes"] for case in PATH.values())
    express_memory_mb = EXPRESS_BASE_MEMORY_MB + (asl_bytes + data_bytes) / 1e6
    billed_memory_gb = round_up(express_memory_mb, EXPRESS_MEMORY_CHUNK_MB) / 1024
    execution_ms = sum(lambdas[agent]["billed_mean_ms"] for agent in PATH)
    # Every task state, RecordOutcome's hand-over of the event included.
    execution_ms += EXPRESS_TASK_OVERHEAD_MS * (len(PATH) + 1)
    billed_execution_ms = round_up(execution_ms, EXPRESS_DURATION_INCREMENT_MS)
    express_duration_usd = (
        billed_memory_gb * billed_execution_ms / 1000 * EXPRESS_PER_GB_SECOND_USD * 1e6
    )
    lambda_usd = sum(lam["requests_usd"] + lam["duration_usd"] for lam in lambdas.values())
    data = data_units(handlers, [case for _, case in invoked.values()])
    data_usd = sum(entry["usd"] for entry in data["priced"].values())
    fixed = API_GATEWAY_REST_PER_MILLION_USD + EXPRESS_PER_MILLION_USD
    fixed += sum(lam["requests_usd"] for lam in lambdas.values())
    total = API_GATEWAY_REST_PER_MILLION_USD + EXPRESS_PER_MILLION_USD
    total += express_duration_usd + lambda_usd + data_usd
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
        "data": data,
        "data_usd": data_usd,
        "execute_wait_usd_per_10ms_inference": (
            execute_gb * 0.010 * LAMBDA_ARM64_PER_GB_SECOND_USD * 1e6
        ),
        "express_usd_per_100ms": EXPRESS_PER_GB_SECOND_USD * billed_memory_gb * 0.1 * 1e6,
    }


def data_units(handlers: dict[str, Any], cases: list[str]) -> dict[str, Any]:
    """Request units and stream data of one request, summed over the cases it invokes: priced
    where AWS bills per unit, and any call this table has no price for, listed."""
    summed: dict[str, float] = {}
    for case in cases:
        for unit, amount in handlers[case]["aws_units_per_invocation"].items():
            summed[unit] = summed.get(unit, 0.0) + amount
    priced = {
        unit: {"per_request": amount, "usd": amount * UNIT_PRICES_PER_MILLION_USD[unit]}
        for unit, amount in summed.items()
        if unit in UNIT_PRICES_PER_MILLION_USD
    }
    unpriced = {unit: amount for unit, amount in summed.items() if unit not in priced}
    return {"priced": priced, "unpriced": unpriced}


def rows(cost: dict[str, Any]) -> list[Row]:
    return [
        at_most(
            "Platform cost per million requests (inference excluded)",
            f"${cost['total_usd']:.2f} (requests ${cost['fixed_usd']:.2f} + durations "
            f"${cost['variable_usd'] - cost['data_usd']:.2f} + table and stream units "
            f"${cost['data_usd']:.2f})" + _unpriced(cost),
            cost["total_usd"],
            BUDGET_USD,
            f"≤ ${BUDGET_USD:.2f}",
        )
    ]


def _unpriced(cost: dict[str, Any]) -> str:
    unpriced = cost["data"]["unpriced"]
    if not unpriced:
        return ""
    return "; not priced: " + ", ".join(f"{n:g} {call}" for call, n in unpriced.items())


UNIT_NAMES = {
    "dynamodb_write_units": "DynamoDB write request units",
    "dynamodb_read_units": "DynamoDB read request units",
    "kinesis_kb": f"Kinesis KB in (1 KB steps) and out to {KINESIS_CONSUMERS} consumers",
    "firehose_kb": "Firehose KB (5 KB steps)",
}


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
    for unit, entry in cost["data"]["priced"].items():
        amount = f"{entry['per_request']:.2f} a request"
        lines.append(f"| {UNIT_NAMES[unit]} | - | {amount} | {entry['usd']:.3f} |")
    lines.append(f"| **total** | | | **{cost['total_usd']:.2f}** |")
    return [
        "\n".join(lines),
        f"Each 10 ms the execute agent waits on an inference adds "
        f"${cost['execute_wait_usd_per_10ms_inference']:.3f} per million (its memory size), "
        f"and each 100 ms of execution ${cost['express_usd_per_100ms']:.3f} (Express).",
    ]
