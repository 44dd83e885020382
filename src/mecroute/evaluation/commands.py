"""`mecroute eval-router` and `mecroute simulate`: routing quality on labelled data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mecroute.evaluation import eval_router


def add_commands(commands: Any) -> None:
    eval_router.add_arguments(
        commands.add_parser(
            "eval-router", help="score labelled prompts with the shipped complexity model"
        )
    )

    simulate = commands.add_parser(
        "simulate", help="replay a workload through every routing policy and write a report"
    )
    simulate.add_argument("--requests", type=int, default=2000)
    simulate.add_argument("--policy", default="all", help="a policy name or `all`")
    simulate.add_argument("--data", type=Path, help="prompts with outcomes (its test split)")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--report", type=Path, required=True, help="directory to write")


def run(args: argparse.Namespace) -> int:
    return eval_router.run(args) if args.command == "eval-router" else _simulate(args)


def _simulate(args: argparse.Namespace) -> int:
    from mecroute.complexity.model import shipped
    from mecroute.evaluation import simulate, workload
    from mecroute.evaluation.report import markdown_table
    from mecroute.local.runtime import ZOO_DIR
    from mecroute.mec.zoo import build_zoo

    names = list(simulate.POLICY_NAMES) if args.policy == "all" else [args.policy]
    unknown = set(names) - set(simulate.POLICY_NAMES)
    if unknown:
        raise SystemExit(f"unknown policy {sorted(unknown)}; choose from {simulate.POLICY_NAMES}")
    jobs, source = workload.build(args.requests, args.seed, args.data)
    models = [spec for spec, _ in build_zoo(ZOO_DIR)]
    runs = simulate.simulate(jobs, models, names, args.seed, shipped())
    summaries = simulate.write_outputs(runs, source, args.seed, args.report)
    print(markdown_table(summaries))
    print(f"\nreport: {args.report / 'summary.md'} (plots and results.json beside it)")
    return 0
