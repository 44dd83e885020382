"""The report's two plots: SLA attainment by class per policy, and utility against cost with
labels placed so none covers another or a marker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# A cost axis that is linear below one cent per 1,000 requests (so free policies sit at 0)
# and logarithmic above (so the cloud does not squash the cluster).
COST_LINEAR_BELOW = 0.01
CLASS_COLOURS = ("#d62728", "#ff7f0e", "#2ca02c")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _mean_and_error(value: dict[str, Any] | None) -> tuple[float, float]:
    """A figure's mean and its interval's half-width (NaN and 0 when it is missing)."""
    if not value:
        return float("nan"), 0.0
    low, high = value["ci"]
    return float(value["mean"]), float(high - low) / 2


def plot_sla_by_class(
    aggregated: dict[str, list[dict[str, Any]]],
    class_keys: list[str],
    class_titles: list[str],
    path: Path,
) -> None:
    plt = _pyplot()
    paths = list(aggregated)
    figure, axes = plt.subplots(
        len(paths), 1, figsize=(12, 3.8 * len(paths)), sharex=True, squeeze=False
    )
    for axis, name in zip(axes[:, 0], paths, strict=True):
        policies = aggregated[name]
        x = np.arange(len(policies))
        width = 0.8 / len(class_keys)
        for index, (key, title) in enumerate(zip(class_keys, class_titles, strict=True)):
            values = [p["sla_met_by_class"].get(key) for p in policies]
            means = np.array([v["mean"] if v else np.nan for v in values])
            # Shares live in [0, 1]: the interval's bar stops at the bounds.
            low = np.array([max(0.0, v["ci"][0]) if v else np.nan for v in values])
            high = np.array([min(1.0, v["ci"][1]) if v else np.nan for v in values])
            axis.bar(
                x + (index - (len(class_keys) - 1) / 2) * width,
                means,
                width,
                yerr=[np.maximum(0, means - low), np.maximum(0, high - means)],
                capsize=2,
                error_kw={"elinewidth": 0.8},
                color=CLASS_COLOURS[index % len(CLASS_COLOURS)],
                label=title,
            )
        axis.axhline(0.95, color="black", linestyle=":", linewidth=1)
        axis.annotate(
            "95%",
            xy=(1.0, 0.95),
            xycoords=("axes fraction", "data"),
            xytext=(3, 0),
            textcoords="offset points",
            fontsize=8,
            va="center",
        )
        axis.set_ylim(0, 1.22)
        axis.set_yticks(np.linspace(0, 1, 6))
        axis.set_ylabel("share of requests on time")
        axis.set_title(f"SLA met end to end by SLA class, {name} path (95% intervals over seeds)")
        axis.set_xticks(x, [p["policy"] for p in policies])
        axis.legend(loc="upper left", fontsize=8, ncols=len(class_keys), frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_utility_cost(aggregated: dict[str, list[dict[str, Any]]], path: Path) -> None:
    plt = _pyplot()
    paths = list(aggregated)
    figure, axes = plt.subplots(
        1, len(paths), figsize=(6.5 * len(paths), 5), sharey=True, squeeze=False
    )
    for axis, name in zip(axes[0], paths, strict=True):
        policies = aggregated[name]
        points = []
        for p in policies:
            cost, cost_error = _mean_and_error(p["cost_per_1000_usd"])
            utility, utility_error = _mean_and_error(p["utility"])
            ours = p["policy"] == "adaptive"
            axis.errorbar(
                cost,
                utility,
                xerr=cost_error,
                yerr=utility_error,
                fmt="*" if ours else "o",
                markersize=14 if ours else 6,
                color="#1f77b4" if ours else "#555555",
                ecolor="#1f77b4" if ours else "#bbbbbb",
                elinewidth=0.8,
                capsize=2,
            )
            points.append((cost, utility, p["policy"]))
        # The oracle is a bound, not a policy one could run: the frontier is the others'.
        frontier = _frontier([(c, u) for c, u, name in points if name != "oracle"])
        axis.plot(
            *zip(*frontier, strict=True),
            linestyle="--",
            color="#1f77b4",
            alpha=0.4,
            drawstyle="steps-post",
            label="frontier (oracle aside): no cheaper policy does better",
        )
        axis.legend(loc="lower left", fontsize=8, frameon=False)
        axis.set_xscale("symlog", linthresh=COST_LINEAR_BELOW)
        axis.set_xlim(left=-COST_LINEAR_BELOW / 4)
        axis.set_xlabel("cost per 1,000 requests, USD (linear below $0.01, log above)")
        axis.set_title(f"Utility against cost, {name} path")
        axis.grid(True, alpha=0.3)
        _place_labels(figure, axis, points)
    axes[0][0].set_ylabel("utility per request (right and on time, less cost)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The policies no cheaper policy beats on utility, by cost."""
    frontier: list[tuple[float, float]] = []
    for cost, utility in sorted(points):
        if not frontier or utility > frontier[-1][1]:
            frontier.append((cost, utility))
    return frontier


# Offsets in points tried for each label, nearest first.
_OFFSETS = [
    (dx * r, dy * r)
    for r in (1.0, 2.0, 3.2)
    for dx, dy in ((8, 6), (8, -12), (-8, 6), (-8, -12), (0, 12), (0, -18), (14, -3), (-14, -3))
]


def _place_labels(figure: Any, axis: Any, points: list[tuple[float, float, str]]) -> None:
    """Greedy placement: each label takes the nearest offset whose box overlaps no label or
    marker already placed (the least-overlapping one when none is free)."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    to_pixels = axis.transData.transform
    box = axis.get_window_extent(renderer)
    frame = (box.x0, box.y0, box.x1, box.y1)
    markers = []
    for x, y, _ in points:
        px, py = to_pixels((x, y))
        markers.append((px - 8, py - 8, px + 8, py + 8))
    placed: list[tuple[float, float, float, float]] = []
    for x, y, label in sorted(points, key=lambda point: -point[1]):
        best = None
        for dx, dy in _OFFSETS:
            text = axis.annotate(
                label,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                fontsize=9,
                ha="left" if dx >= 0 else "right",
                arrowprops={"arrowstyle": "-", "color": "#888888", "linewidth": 0.6},
            )
            box = text.get_window_extent(renderer)
            extent = (box.x0, box.y0, box.x1, box.y1)
            clash = sum(_overlap(extent, other) for other in placed + markers)
            clash += _outside(extent, frame)
            if best is None or clash < best[0]:
                if best is not None:
                    best[1].remove()
                best = (clash, text, extent)
            else:
                text.remove()
            if clash == 0:
                break
        assert best is not None
        placed.append(best[2])


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, width) * max(0.0, height)


def _outside(
    a: tuple[float, float, float, float], frame: tuple[float, float, float, float]
) -> float:
    """How much of a label's box falls outside the axes, weighted to count as a bad clash."""
    area = (a[2] - a[0]) * (a[3] - a[1])
    return 10 * (area - _overlap(a, frame))
