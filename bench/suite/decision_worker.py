"""A process that times routing decisions, round by round: ours, or LiteLLM's in its own venv.

    python decision_worker.py SIDE    (SIDE: ours | litellm-latency-26 | litellm-shuffle-3)

Prints one JSON line of facts when ready; then for each line N read on stdin times N decisions
and prints their microseconds as a JSON list; exits at the end of stdin. It runs under either
interpreter, so only the standard library is imported at the top (the side's code in `decider`).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script under either interpreter: the bench folder on the path gives it the suite's
# timing loop, which imports only the standard library.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from suite.timing import timings

SIDES = ("ours", "litellm-latency-26", "litellm-shuffle-3")
PROMPT = "What is the capital of France?"
WARMUP_CALLS = 200
# LiteLLM's latency-based strategy picks from the latencies it has recorded: fill them first,
# with mock completions, so every deployment has a figure (as in a router that has been running).
LATENCY_SAMPLES_PER_DEPLOYMENT = 4


def litellm_deployments(count: int) -> list[dict[str, Any]]:
    """`count` deployments of one model group, each answering with a mock response: no network."""
    return [
        {
            "model_name": "bench",
            "litellm_params": {
                "model": f"openai/bench-model-{index}",
                "api_key": "sk-not-used",
                "api_base": f"http://10.0.{index}.10:9000/v1",
                "mock_response": "ok",
            },
            "model_info": {"id": f"deployment-{index}"},
        }
        for index in range(count)
    ]


def litellm_decider(strategy: str, count: int) -> tuple[Callable[[], object], dict[str, Any]]:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the price list
    import litellm
    from litellm import Router

    router = Router(model_list=litellm_deployments(count), routing_strategy=strategy)
    messages = [{"role": "user", "content": PROMPT}]
    if strategy == "latency-based-routing":
        for _ in range(LATENCY_SAMPLES_PER_DEPLOYMENT * count):
            router.completion(model="bench", messages=messages)
    with warnings.catch_warnings():  # `Router.cache` is deprecated; it still reads the store
        warnings.simplefilter("ignore", DeprecationWarning)
        recorded = router.cache.get_cache(key="bench_map") or {}

    def decide() -> Any:
        return router.get_available_deployment("bench", messages=messages)

    facts = {
        "litellm": getattr(litellm, "__version__", None) or _installed_version("litellm"),
        "deployments": count,
        "strategy": strategy,
        "deployments_with_latency": len(recorded),
        "picked": decide()["model_info"]["id"],
    }
    return decide, facts


def _installed_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def our_decider() -> tuple[Callable[[], object], dict[str, Any]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: the suite package
    from mecroute.agents import router
    from mecroute.domain.request import CriterionWeights
    from suite.router_decision import router_inputs, zoo_specs

    context, snapshot = router_inputs(zoo_specs())
    weights = CriterionWeights()

    def decide() -> object:
        return router.route(context, snapshot, weights)

    decision = router.route(context, snapshot, weights)
    facts = {
        "options": sum(1 for _ in router.enumerate_options(snapshot)),
        "picked": decision.primary.label if decision.primary else None,
    }
    return decide, facts


def decider(side: str) -> tuple[Callable[[], object], dict[str, Any]]:
    if side == "ours":
        return our_decider()
    if side == "litellm-latency-26":
        return litellm_decider("latency-based-routing", 26)
    if side == "litellm-shuffle-3":
        return litellm_decider("simple-shuffle", 3)
    raise SystemExit(f"unknown side {side!r}: one of {', '.join(SIDES)}")


def main() -> None:
    side = sys.argv[1]
    decide, facts = decider(side)
    timings(decide, WARMUP_CALLS)
    print(json.dumps({"side": side, **facts}), flush=True)
    for line in sys.stdin:
        print(json.dumps(timings(decide, int(line))), flush=True)
    # LiteLLM's interpreter teardown takes seconds (its threads and atexit hooks): skip it.
    os._exit(0)


if __name__ == "__main__":
    main()
