"""`mecroute eval-router` and `mecroute simulate`: routing quality on labelled data."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mecroute.evaluation import eval_router
from mecroute.evaluation.control_plane import GATEWAY_P50_MS, RoutingPath


def add_commands(commands: Any) -> None:
    eval_router.add_arguments(
        commands.add_parser(
            "eval-router", help="score labelled prompts with the shipped complexity model"
        )
    )

    simulate = commands.add_parser(
        "simulate", help="replay a workload through every routing policy and write a report"
    )
    simulate.add_argument("--requests", type=int, default=2000, help="requests per seed")
    simulate.add_argument("--policy", default="all", help="a policy name or `all`")
    simulate.add_argument("--data", type=Path, help="prompts with outcomes (its test split)")
    simulate.add_argument("--seed", type=int, default=7, help="the first seed")
    simulate.add_argument(
        "--seeds", type=int, default=1, help="how many seeds (each its own workload and world)"
    )
    simulate.add_argument(
        "--paths",
        default="regional,edge",
        help="routing paths to compare: regional (API Gateway + Step Functions), edge (a gateway "
        "at the MEC site)",
    )
    simulate.add_argument(
        "--gateway-overhead-ms",
        type=float,
        default=GATEWAY_P50_MS,
        help="the edge gateway's routing overhead p50 (default: bench/bench_gateway.py as measured "
        "here; issue 13's budget is 2)",
    )
    simulate.add_argument("--report", type=Path, required=True, help="directory to write")


def run(args: argparse.Namespace) -> int:
    return eval_router.run(args) if args.command == "eval-router" else _simulate(args)


def _simulate(args: argparse.Namespace) -> int:
    from mecroute.complexity.model import shipped
    from mecroute.evaluation import experiment, simulate
    from mecroute.evaluation.control_plane import edge_path, regional_path
    from mecroute.evaluation.report import policy_table, write_report
    from mecroute.local.runtime import ZOO_DIR
    from mecroute.mec.zoo import build_zoo

    names = list(simulate.POLICY_NAMES) if args.policy == "all" else [args.policy]
    unknown = set(names) - set(simulate.POLICY_NAMES)
    if unknown:
        raise SystemExit(f"unknown policy {sorted(unknown)}; choose from {simulate.POLICY_NAMES}")
    builders: dict[str, Callable[[], RoutingPath]] = {
        "regional": regional_path,
        "edge": lambda: edge_path(args.gateway_overhead_ms),
    }
    wanted = [name.strip() for name in args.paths.split(",") if name.strip()]
    if not wanted or set(wanted) - set(builders):
        raise SystemExit(f"--paths takes a comma-separated subset of {sorted(builders)}")
    if args.seeds < 1:
        raise SystemExit("--seeds must be at least 1")
    result = experiment.run(
        args.requests,
        list(range(args.seed, args.seed + args.seeds)),
        args.data,
        [spec for spec, _ in build_zoo(ZOO_DIR)],
        names,
        [builders[name]() for name in wanted],
        shipped(),
    )
    for path, policies in write_report(result, args.report).items():
        print(f"\n{path} path\n{policy_table(policies)}")
    print(f"\nreport: {args.report / 'summary.md'} (plots and results.json beside it)")
    return 0
