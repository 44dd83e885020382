"""The simulator's report: summary.md (tables with 95% intervals), results.json and two plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mecroute.evaluation.experiment import Experiment
from mecroute.evaluation.plots import plot_sla_by_class, plot_utility_cost
from mecroute.evaluation.summary import class_key
from mecroute.evaluation.workload import RADIO_PROFILES, SLA_CLASSES

CLASS_KEYS = [class_key(name, ms) for name, _, ms in SLA_CLASSES]
CLASS_TITLES = [
    f"SLA {ms / 1000:g} s" if ms >= 1000 else f"SLA {ms} ms" for _, _, ms in SLA_CLASSES
]


def figure(value: dict[str, Any] | None, digits: int = 3, money: bool = False) -> str:
    """A mean and its 95% interval as `mean ±half-width`."""
    if not value:
        return "-"
    low, high = value["ci"]
    half = (high - low) / 2
    prefix = "$" if money else ""
    return f"{prefix}{value['mean']:.{digits}f} ±{half:.{digits}f}"


def policy_table(policies: list[dict[str, Any]]) -> str:
    oracle = next((p["utility"]["mean"] for p in policies if p["policy"] == "oracle"), None)
    lines = [
        "| policy | utility | of oracle | accuracy | "
        + " | ".join(CLASS_TITLES)
        + " | SLA all | cost / 1k req | routing overhead p50 / p95 ms |",
        "|---" * (7 + len(CLASS_TITLES)) + "|",
    ]
    for p in policies:
        name = f"**{p['policy']}**" if p["policy"] == "adaptive" else p["policy"]
        share = f"{p['utility']['mean'] / oracle:.0%}" if oracle else "-"
        by_class = " | ".join(figure(p["sla_met_by_class"].get(key)) for key in CLASS_KEYS)
        overhead = p["routing_overhead_ms"]
        lines.append(
            f"| {name} | {figure(p['utility'])} | {share} | {figure(p['accuracy'])} | {by_class} "
            f"| {figure(p['sla_attainment'])} | {figure(p['cost_per_1000_usd'], money=True)} "
            f"| {overhead['p50']['mean']:.0f} / {overhead['p95']['mean']:.0f} |"
        )
    return "\n".join(lines)


def paths_table(aggregated: dict[str, list[dict[str, Any]]]) -> str:
    """Regional against edge, per policy: utility and SLA attainment by class."""
    names = list(aggregated)
    columns = ["utility", *CLASS_TITLES]
    header = " | ".join(f"{column} {path}" for column in columns for path in names)
    lines = [f"| policy | {header} |", "|---" * (1 + len(columns) * len(names)) + "|"]
    for index, first in enumerate(aggregated[names[0]]):
        cells = []
        for key in [None, *CLASS_KEYS]:
            for path in names:
                entry = aggregated[path][index]
                cells.append(
                    figure(entry["utility"] if key is None else entry["sla_met_by_class"].get(key))
                )
        lines.append(f"| {first['policy']} | {' | '.join(cells)} |")
    return "\n".join(lines)


def paired_table(paired: dict[str, dict[str, dict[str, Any]]]) -> str:
    """`adaptive`'s utility minus each policy's, paired by seed; an interval clear of 0 is a
    difference the seeds support."""
    paths = list(paired)
    lines = [
        "| adaptive minus | " + " | ".join(paths) + " |",
        "|---" * (1 + len(paths)) + "|",
    ]
    names = list(paired[paths[0]]) if paths else []
    for name in names:
        lines.append(f"| {name} | " + " | ".join(figure(paired[p][name]) for p in paths) + " |")
    return "\n".join(lines)


def radio_table(aggregated: dict[str, list[dict[str, Any]]]) -> str:
    radios = [p.name for p in RADIO_PROFILES]
    lines = [
        "| path | policy | " + " | ".join(f"SLA met, {r}" for r in radios) + " |",
        "|---" * (2 + len(radios)) + "|",
    ]
    for path, policies in aggregated.items():
        for p in policies:
            cells = " | ".join(figure(p["sla_met_by_radio"].get(r)) for r in radios)
            lines.append(f"| {path} | {p['policy']} | {cells} |")
    return "\n".join(lines)


def write_report(experiment: Experiment, out: Path) -> dict[str, list[dict[str, Any]]]:
    from mecroute.evaluation.simulate import COST_WEIGHT

    out.mkdir(parents=True, exist_ok=True)
    aggregated = experiment.aggregated()
    (out / "results.json").write_text(json.dumps(experiment.as_json(), indent=2) + "\n")
    plot_sla_by_class(aggregated, CLASS_KEYS, CLASS_TITLES, out / "sla_by_class.png")
    plot_utility_cost(aggregated, out / "utility_cost.png")
    sections = [
        "# Routing policies compared, routing's own time counted\n",
        f"Workload: {experiment.source}; {experiment.requests} requests per seed; seeds "
        f"{experiment.seeds}. Figures are means over seeds with 95% intervals (± half-width). "
        "Each seed draws its own ground truth around the registry's priors. Device-tier "
        "correctness is modelled, not measured. Utility per request: 1 for a right answer "
        f"within its SLA end to end, minus its cost at {COST_WEIGHT:.0f} per dollar.\n",
    ]
    for path, policies in aggregated.items():
        sections.append(f"## {path} path\n\n{policy_table(policies)}\n")
    if len(aggregated) > 1:
        sections.append(f"## Regional against edge\n\n{paths_table(aggregated)}\n")
    paired = experiment.paired_utility()
    if paired and len(experiment.seeds) > 1:
        sections.append(
            "## Utility of adaptive against each policy, paired by seed\n\n"
            f"{paired_table(paired)}\n"
        )
    sections.append(f"## SLA met by radio\n\n{radio_table(aggregated)}\n")
    sections.append(
        "![SLA attainment by class](sla_by_class.png)\n\n![utility and cost](utility_cost.png)\n"
    )
    (out / "summary.md").write_text("\n".join(sections))
    return aggregated
