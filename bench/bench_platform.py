"""Platform benchmark: the router's and the agents' costs in time and money, against budgets.

    .venv/bin/python bench/bench_platform.py      (or `make bench`; docs/performance.md)
    .venv/bin/python bench/bench_platform.py --quick --only router cold    (a smoke run)

Runs the sections in bench/suite/ (one module each: router decision, the same decision beside
LiteLLM's routing (LiteLLM installed in a venv under build/ on first use), context analysis, warm
handlers on moto, cold init, the offline pipeline, the MEC node's overhead, layer sizes), works
out the platform cost per million requests from the measured durations, and prints a table of
each figure beside its budget with a verdict. Writes bench/results/latest.{json,md} (a --quick or
--only run writes build/bench-results/ instead). The machine may be shared: figures are medians
over several rounds, the CPU-bound ones also in units of a reference loop timed beside them, and
budgets are quoted as ratios. Asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import onnxruntime
from suite import (
    cold_init,
    context_analysis,
    cost,
    layers,
    litellm_side,
    node_overhead,
    pipeline,
    router_decision,
    warm_handlers,
)
from suite.paths import PARTIAL_RESULTS_DIR, RESULTS_DIR, ROOT
from suite.table import Row, plain, write
from suite.timing import QUICK, Plan, bench_reference, say

from mecroute.lambda_support.manifest import BY_NAME

SECTIONS = ("router", "litellm", "context", "handlers", "cold", "pipeline", "node", "layers")
Rows = Callable[[dict[str, Any]], list[Row]]
# The table's order: budgets first, figures shown for context last.
TABLE: tuple[tuple[str, Rows], ...] = (
    ("router", router_decision.rows),
    ("litellm", litellm_side.rows),
    ("context", context_analysis.rows),
    ("cold", cold_init.rows),
    ("layers", layers.rows),
    ("cost", cost.rows),
    ("node", node_overhead.rows),
    ("handlers", warm_handlers.rows),
    ("pipeline", pipeline.rows),
)
NOTES: tuple[tuple[str, Callable[[dict[str, Any]], list[str]]], ...] = (
    ("cost", cost.notes),
    ("cold", cold_init.notes),
)


def steps(plan: Plan) -> dict[str, Callable[[], dict[str, Any]]]:
    return {
        "router": lambda: router_decision.run(plan),
        "litellm": lambda: litellm_side.run(plan),
        "context": lambda: context_analysis.run(plan),
        "handlers": lambda: warm_handlers.run(plan),
        "cold": lambda: cold_init.run(plan),
        "pipeline": lambda: pipeline.run(plan),
        "node": node_overhead.run,
        "layers": layers.run,
    }


def git(*arguments: str) -> str:
    completed = subprocess.run(  # noqa: S603 - fixed git command lines
        ["git", *arguments],  # noqa: S607 - git from PATH, as make does
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


def commit() -> str:
    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' (with uncommitted changes)' if dirty else ''}"


def platform_cost(handlers: dict[str, Any]) -> dict[str, Any]:
    asl_bytes = (ROOT / "statemachines" / "inference_pipeline.asl.json").stat().st_size
    from infra.streaming import AGGREGATOR_BATCH_SIZE  # infra/ is on the path from main()

    memory_mb = {name: function.memory_mb for name, function in BY_NAME.items()}
    return cost.cost_per_million(handlers["cases"], asl_bytes, memory_mb, AGGREGATOR_BATCH_SIZE)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions: a smoke run")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    sys.path.insert(0, str(ROOT))  # infra/ (the layer bundler)
    results: dict[str, Any] = {
        "measured_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "quick": args.quick,
        "machine": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
        },
        "plan": dataclasses.asdict(plan),
        "load_average_at_start": os.getloadavg(),
    }
    say(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; {plan.rounds} rounds per micro-benchmark"
    )
    results["reference"] = bench_reference(plan)
    say(f"reference loop (sum of 1,000 squares): {results['reference']['us']['p50']:.1f} µs")
    runners = steps(plan)
    for name in args.only or SECTIONS:
        started = time.perf_counter()
        say(f"== {name} ...")
        results[name] = runners[name]()
        results.setdefault("load_average_after", {})[name] = os.getloadavg()
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        say(f"   done in {time.perf_counter() - started:.1f} s (load average {load})")
    if "handlers" in results:
        results["cost"] = platform_cost(results["handlers"])
    table = [row for name, rows in TABLE if name in results for row in rows(results[name])]
    notes = [note for name, lines in NOTES if name in results for note in lines(results[name])]
    say("\n" + plain(table))
    out = PARTIAL_RESULTS_DIR if args.quick or args.only else RESULTS_DIR
    write(out, table, results, notes)
    say(f"\nwrote {out.relative_to(ROOT)}/latest.json and latest.md")


if __name__ == "__main__":
    main()
