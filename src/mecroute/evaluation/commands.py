"""`mecroute eval-router` and `mecroute simulate`: routing quality on labelled data."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from mecroute.evaluation.router_metrics import RouterFigures


def add_commands(commands: Any) -> None:
    evaluate = commands.add_parser(
        "eval-router", help="score labelled prompts with the shipped complexity model"
    )
    evaluate.add_argument("--data", type=Path, required=True, help="CSVs as in routellm-mmlu")
    evaluate.add_argument("--split", choices=["test", "train", "all"], default="test")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")

    simulate = commands.add_parser(
        "simulate", help="replay a workload through every routing policy and write a report"
    )
    simulate.add_argument("--requests", type=int, default=2000)
    simulate.add_argument("--policy", default="all", help="a policy name or `all`")
    simulate.add_argument("--data", type=Path, help="prompts with outcomes (its test split)")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--report", type=Path, required=True, help="directory to write")


def run(args: argparse.Namespace) -> int:
    return _eval_router(args) if args.command == "eval-router" else _simulate(args)


def _eval_router(args: argparse.Namespace) -> int:
    from mecroute.complexity.model import shipped
    from mecroute.evaluation import dataset
    from mecroute.evaluation.router_metrics import figures, oracle_figures, random_figures

    rows = dataset.read(args.data, args.split)
    model = shipped()
    started = time.perf_counter()
    scores = np.array([model.score(row.prompt) for row in rows])
    per_prompt_ms = (time.perf_counter() - started) * 1000 / max(1, len(rows))
    mec = np.array([row.mec_correct for row in rows])
    cloud = np.array([row.cloud_correct for row in rows])
    ours = figures(scores, mec, cloud)
    if args.json:
        print(
            json.dumps(
                {
                    **_fractions(ours),
                    "random": _fractions(random_figures(mec, cloud)),
                    "oracle": _fractions(oracle_figures(mec, cloud)),
                    "mean_ms_per_prompt": round(per_prompt_ms, 4),
                }
            )
        )
        return 0
    print(
        f"{len(rows)} prompts ({args.split} split of {args.data}); "
        f"MEC-class accuracy {ours.mec_accuracy:.4f}, cloud-class {ours.cloud_accuracy:.4f}"
    )
    print(f"{'router':<22}{'APGR':>8}{'CPT(50%)':>10}{'cloud calls for 95%':>21}")
    for name, result in (
        ("random (mean of 20)", random_figures(mec, cloud)),
        ("complexity model", ours),
        ("oracle", oracle_figures(mec, cloud)),
    ):
        print(
            f"{name:<22}{result.apgr:>8.3f}{_percent(result.cpt50):>10}"
            f"{_percent(result.cloud_share_for_95):>21}"
        )
    print(f"scoring took {per_prompt_ms:.3f} ms per prompt (one thread)")
    return 0


def _fractions(result: RouterFigures) -> dict[str, Any]:
    values = asdict(result)
    return {
        "apgr": round(values["apgr"], 4),
        "cpt50": values["cpt50"],
        "cloud_share_for_95": values["cloud_share_for_95"],
        "rows": values["rows"],
    }


def _percent(value: float | None) -> str:
    return "never" if value is None else f"{value:.0%}"


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
