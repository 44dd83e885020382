"""Per-state time of the offline pipeline, from each execution's history (what the Step Functions
console shows): the median over N sequential requests of each state's entered-to-exited time,
and of the whole execution (start to its last state's exit).

    .venv/bin/python bench/bench_state_timings.py [--requests 30] [--json OUT]

For a before/after comparison run it against two trees in one session, alternating, e.g. the
tree before a change with `PYTHONPATH=<that tree>/src` (its lambdas/ and ASL file come with it).
Everything shares this machine's CPUs: compare medians and ratios from the same session only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any

from mecroute.local.runtime import OfflineRuntime

PROMPT = "Summarise: the meeting moved to Tuesday at noon, bring the Q3 figures"


def state_times(history: list[dict[str, Any]]) -> dict[str, float]:
    """Milliseconds from each state's entry to its exit (a state entered twice: summed)."""
    entered: dict[str, datetime] = {}
    spent: dict[str, float] = defaultdict(float)
    for event in history:
        if "stateEnteredEventDetails" in event:
            entered[event["stateEnteredEventDetails"]["name"]] = event["timestamp"]
        elif "stateExitedEventDetails" in event:
            name = event["stateExitedEventDetails"]["name"]
            spent[name] += (event["timestamp"] - entered.pop(name)).total_seconds() * 1000
    whole = history[-1]["timestamp"] - history[0]["timestamp"]
    spent["(execution)"] = whole.total_seconds() * 1000
    return dict(spent)


def measure(requests: int) -> dict[str, Any]:
    from mecroute.adapters.aws import client

    per_state: dict[str, list[float]] = defaultdict(list)
    with contextlib.redirect_stdout(io.StringIO()), OfflineRuntime(time_scale=0.1) as runtime:
        for index in range(requests + 3):
            run = runtime.run({"prompt": f"{PROMPT} ({index})", "privacy": "strict"}, trace=False)
            history = client("stepfunctions").get_execution_history(
                executionArn=run.execution_arn, maxResults=1000
            )["events"]
            if index < 3 or run.status != "SUCCEEDED":
                continue  # warm-up, or a failure (not the path being compared)
            for name, ms in state_times(history).items():
                per_state[name].append(ms)
            # The record stored off the path must not load the next request (a tree from before
            # the asynchronous record has nothing to wait for).
            getattr(runtime, "settle", lambda: None)()
    return {
        name: {"p50_ms": statistics.median(values), "n": len(values)}
        for name, values in per_state.items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args(argv)
    figures = measure(args.requests)
    for name, figure in sorted(figures.items(), key=lambda item: -item[1]["p50_ms"]):
        print(f"{name:24} p50 {figure['p50_ms']:8.1f} ms  (n={figure['n']})")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
