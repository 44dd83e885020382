"""`mecroute eval-router`: the shipped complexity model's routing quality on labelled CSVs.

Prints the model beside random, prompt length and the oracle, each with a bootstrap 95%
interval for APGR; ties are averaged over every order (see `router_metrics`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from mecroute.evaluation import dataset
from mecroute.evaluation.router_metrics import RouterFigures, figures, oracle_figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="CSVs as in routellm-mmlu")
    parser.add_argument(
        "--split", choices=["test", "train", "all"], default="test", help="which rows to score"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--by-file", action="store_true", help="also one line per CSV file")
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples for the interval")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")


def run(args: argparse.Namespace) -> int:
    from mecroute.complexity.model import shipped

    rows = dataset.read(args.data, args.split)
    model = shipped()
    started, cpu_started = time.perf_counter(), time.process_time()
    scores = np.array([model.complexity(row.prompt) for row in rows])
    per_prompt_ms = (time.perf_counter() - started) * 1000 / len(rows)
    cpu_ms = (time.process_time() - cpu_started) * 1000 / len(rows)
    report = evaluate(rows, scores, args.bootstrap, args.seed)
    report["mean_ms_per_prompt"] = round(per_prompt_ms, 4)
    report["mean_cpu_ms_per_prompt"] = round(cpu_ms, 4)  # holds on a busy machine; wall does not
    report["split"] = args.split
    trained_on = str(model.card.get("trained_on", ""))
    if args.split != "test" and trained_on.startswith(f"{args.data.resolve().name} train split"):
        report["warning"] = f"these rows include the model's training data ({trained_on})"
    if args.by_file:
        report["by_file"] = {
            name: evaluate(
                [r for r in rows if r.subject == name],
                scores[[r.subject == name for r in rows]],
                args.bootstrap,
                args.seed,
            )
            for name in sorted({r.subject for r in rows})
        }
    print(json.dumps(report) if args.json else _text(report, args))
    return 0


def evaluate(
    rows: list[dataset.Labelled], scores: np.ndarray, bootstrap: int, seed: int
) -> dict[str, Any]:
    """The model's figures at the top level, the baselines beside them."""
    mec = np.array([row.mec_correct for row in rows])
    cloud = np.array([row.cloud_correct for row in rows])
    length = np.array([len(row.prompt) for row in rows], float)
    return {
        **_as_dict(figures(scores, mec, cloud, bootstrap, seed)),
        "mec_accuracy": round(float(mec.mean()), 4),
        "cloud_accuracy": round(float(cloud.mean()), 4),
        "random": _as_dict(figures(np.zeros(len(rows)), mec, cloud, bootstrap, seed)),
        "prompt_length": _as_dict(figures(length, mec, cloud, bootstrap, seed)),
        "oracle": _as_dict(oracle_figures(mec, cloud)),
    }


def _as_dict(result: RouterFigures) -> dict[str, Any]:
    interval = result.apgr_interval
    return {
        "apgr": round(result.apgr, 4),
        "apgr_95": [round(interval[0], 4), round(interval[1], 4)] if interval else None,
        "cpt50": result.cpt50,
        "cloud_share_for_95": result.cloud_share_for_95,
        "rows": result.rows,
    }


def _text(report: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"{report['rows']} prompts ({args.split} split of {args.data}); MEC-class accuracy "
        f"{report['mec_accuracy']:.4f}, cloud-class {report['cloud_accuracy']:.4f}; "
        "ties averaged over every order",
        f"{'router':<20}{'APGR':>7}{'95% interval':>17}{'CPT(50%)':>10}{'cloud for 95%':>15}",
    ]
    for name, key in (
        ("random", "random"),
        ("prompt length", "prompt_length"),
        ("complexity model", None),
        ("oracle", "oracle"),
    ):
        lines.append(_line(name, report[key] if key else report))
    lines.append(
        f"scoring took {report['mean_ms_per_prompt']:.3f} ms per prompt "
        f"({report['mean_cpu_ms_per_prompt']:.3f} ms of CPU, one thread)"
    )
    if "warning" in report:
        lines.append(f"warning: {report['warning']}: the figure is not a held-out one")
    for name, part in report.get("by_file", {}).items():
        lines.append(
            f"  {name:<28}{part['rows']:>5} rows  model {_apgr(part)}"
            f"  length {_apgr(part['prompt_length'])}"
        )
    return "\n".join(lines)


def _line(name: str, part: dict[str, Any]) -> str:
    interval = part["apgr_95"]
    shown = f"[{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""
    return (
        f"{name:<20}{part['apgr']:>7.3f}{shown:>17}{_percent(part['cpt50']):>10}"
        f"{_percent(part['cloud_share_for_95']):>15}"
    )


def _apgr(part: dict[str, Any]) -> str:
    interval = part["apgr_95"]
    return f"{part['apgr']:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")


def _percent(value: float | None) -> str:
    return "never" if value is None else f"{value:.0%}"
