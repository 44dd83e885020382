"""The context agent's analysis of one request, with the ONNX complexity model, on one core."""

from __future__ import annotations

import time
from typing import Any

from mecroute.adapters.memory import MemoryDecisionLog
from mecroute.agents import context as context_agent
from mecroute.complexity.model import shipped
from suite.paths import event
from suite.table import Row, at_most
from suite.timing import Plan, one_core, repeated

P50_BUDGET_MS = 2.0
LONG_PROMPT = " ".join(
    ["Compare the economic policies of the two governments and explain why each one"] * 28
)


def run(plan: Plan) -> dict[str, Any]:
    model = shipped()
    history = MemoryDecisionLog()
    request = event("analyze_context")["request"]
    long_request = {**request, "prompt": LONG_PROMPT}
    figures: dict[str, Any] = {}
    with one_core() as core:
        figures["sample_event"] = repeated(
            lambda: context_agent.analyze("bench", request, history, time.time(), model),
            plan,
            plan.context_calls,
        )
        figures["long_prompt"] = repeated(
            lambda: context_agent.analyze("bench", long_request, history, time.time(), model),
            plan,
            plan.context_calls // 2,
        )
        figures["onnx_only"] = repeated(
            lambda: model.complexity(request["prompt"]), plan, plan.context_calls
        )
    figures["core"] = core
    figures["prompt_chars"] = {"sample_event": len(request["prompt"]), "long": len(LONG_PROMPT)}
    return figures


def rows(figures: dict[str, Any]) -> list[Row]:
    sample = figures["sample_event"]
    long = figures["long_prompt"]
    return [
        at_most(
            "Context analysis p50 (with the ONNX complexity model)",
            f"{sample['us']['p50'] / 1000:.3f} ms (p99 {sample['us']['p99'] / 1000:.3f} ms; "
            f"{sample['p50_in_reference_loops']:.1f} reference loops; "
            f"2 kB prompt p50 {long['us']['p50'] / 1000:.3f} ms)",
            sample["us"]["p50"] / 1000,
            P50_BUDGET_MS,
            f"≤ {P50_BUDGET_MS:g} ms",
        )
    ]
