"""The simulator's report: summary.md, results.json and two PNG plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mecroute.evaluation.simulate import PolicyRun


def markdown_table(summaries: list[dict[str, Any]]) -> str:
    oracle = next((s["utility"] for s in summaries if s["policy"] == "oracle"), None)
    lines = [
        "| policy | accuracy | SLA met | utility | of oracle | cost / 1k req | cloud share "
        "| p95 latency ms (device / MEC / cloud) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        p95 = " / ".join(
            str(s["latency"][tier]["p95_ms"]) if tier in s["latency"] else "-"
            for tier in ("device", "mec", "cloud")
        )
        share = f"{s['utility'] / oracle:.0%}" if oracle else "-"
        name = f"**{s['policy']}**" if s["policy"] == "adaptive" else s["policy"]
        lines.append(
            f"| {name} | {s['accuracy']:.3f} | {s['sla_attainment']:.3f} | {s['utility']:.3f} "
            f"| {share} | ${s['cost_per_1000_usd']:.3f} | {s['cloud_share']:.1%} | {p95} |"
        )
    return "\n".join(lines)


def write_report(
    runs: list[PolicyRun], summaries: list[dict[str, Any]], source: str, seed: int, out: Path
) -> None:
    from mecroute.evaluation.simulate import COST_WEIGHT

    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"source": source, "seed": seed, "policies": summaries}, indent=2) + "\n"
    )
    _plot_latency(runs, out / "latency_cdf.png")
    _plot_frontier(summaries, out / "cost_accuracy.png")
    (out / "summary.md").write_text(
        f"# Routing policies compared\n\n"
        f"Workload: {source}; {len(runs[0].outcomes) if runs else 0} requests; seed {seed}.\n"
        f"Device-tier correctness is modelled, not measured. Utility per request: 1 for a right,"
        f" on-time answer, minus its cost at {COST_WEIGHT:.0f} per dollar.\n\n"
        f"{markdown_table(summaries)}\n\n"
        "![latency against SLA](latency_cdf.png)\n\n![cost and accuracy](cost_accuracy.png)\n"
    )


def _plot_latency(runs: list[PolicyRun], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axis = plt.subplots(figsize=(8, 5))
    for run in runs:
        ratios = np.sort([o.latency_ms / o.sla_ms for o in run.outcomes if o.served])
        if len(ratios):
            axis.plot(
                ratios,
                np.arange(1, len(ratios) + 1) / len(run.outcomes),
                label=run.name,
                linewidth=2.5 if run.name == "adaptive" else 1.2,
            )
    axis.axvline(1.0, color="black", linestyle="--", linewidth=1, label="SLA")
    axis.set_xscale("log")
    axis.set_xlabel("latency / the request's SLA")
    axis.set_ylabel("share of requests served within")
    axis.set_title("Latency against each request's SLA")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_frontier(summaries: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 5))
    for s in summaries:
        marker = "*" if s["policy"] == "adaptive" else "o"
        axis.scatter(
            s["cost_per_1000_usd"], s["accuracy"], s=160 if marker == "*" else 50, marker=marker
        )
        axis.annotate(
            s["policy"],
            (s["cost_per_1000_usd"], s["accuracy"]),
            fontsize=8,
            xytext=(4, 4),
            textcoords="offset points",
        )
    axis.set_xlabel("cost per 1,000 requests (USD)")
    axis.set_ylabel("accuracy (all requests)")
    axis.set_title("Cost and accuracy by policy")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
